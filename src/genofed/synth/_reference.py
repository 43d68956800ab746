"""GRCh38 facts the generator needs: contig lengths, real driver hotspots, and gene spans.

Three small tables, each with a different standard of truth:

- :data:`CONTIGS` are the GRCh38 primary-assembly chromosome lengths (exact; they go into the VCF
  ``##contig`` lines).
- :data:`HOTSPOTS` are real recurrent cancer mutations with their real GRCh38 coordinates, alleles,
  HGVS c./p. changes and SO consequences (checked against published GRCh38 positions: BRAF V600E is
  chr7:140753336 A>T, KRAS G12D chr12:25245350 C>T, PIK3CA H1047R chr3:179234297 A>G, EGFR exon 19
  E746_A750del deletes chr7:55174772-55174786). Genes on the minus strand have complemented alleles.
- :data:`GENE_SPANS` are **approximate** GRCh38 gene bodies (to within a few kilobases) of the driver
  genes the generator uses. Non-hotspot driver events are placed in the middle 70 % of a span, which
  keeps them inside the gene even where an edge is off. They are not exon-accurate, so those synthetic
  events carry a gene and a consequence but no HGVS notation.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CHROMOSOMES",
    "CONTIGS",
    "GENE_SPANS",
    "HOTSPOTS",
    "GeneSpan",
    "Hotspot",
    "hotspots_of",
]

#: GRCh38 primary assembly chromosome lengths (bp), in karyotype order.
CONTIGS: dict[str, int] = {
    "1": 248_956_422,
    "2": 242_193_529,
    "3": 198_295_559,
    "4": 190_214_555,
    "5": 181_538_259,
    "6": 170_805_979,
    "7": 159_345_973,
    "8": 145_138_636,
    "9": 138_394_717,
    "10": 133_797_422,
    "11": 135_086_622,
    "12": 133_275_309,
    "13": 114_364_328,
    "14": 107_043_718,
    "15": 101_991_189,
    "16": 90_338_345,
    "17": 83_257_441,
    "18": 80_373_285,
    "19": 58_617_616,
    "20": 64_444_167,
    "21": 46_709_983,
    "22": 50_818_468,
    "X": 156_040_895,
    "Y": 57_227_415,
    "MT": 16_569,
}

#: Chromosomes that carry synthetic variants (autosomes and X), in sort order.
CHROMOSOMES: tuple[str, ...] = tuple(c for c in CONTIGS if c not in ("Y", "MT"))


@dataclass(frozen=True, slots=True)
class Hotspot:
    """One real recurrent mutation on GRCh38 (VCF-style 1-based ``pos``, ``ref``/``alt`` on the + strand)."""

    gene: str
    label: str  # one-letter protein change without "p.", e.g. V600E
    chrom: str
    pos: int
    ref: str
    alt: str
    hgvs_c: str  # coding change on the gene's IntOGen transcript
    hgvs_p: str  # three-letter protein change, as VEP writes it
    consequence: str
    exon: str  # "15/18" as VEP writes it; "" when not recorded here


HOTSPOTS: tuple[Hotspot, ...] = (
    # KRAS, minus strand: c.34 is chr12:25245351, c.35 25245350, c.38 25245347, c.182 25227342,
    # c.183 25227341, c.436 25225628.
    Hotspot("KRAS", "G12D", "12", 25245350, "C", "T", "c.35G>A", "p.Gly12Asp", "missense_variant", "2/6"),
    Hotspot("KRAS", "G12V", "12", 25245350, "C", "A", "c.35G>T", "p.Gly12Val", "missense_variant", "2/6"),
    Hotspot("KRAS", "G12C", "12", 25245351, "C", "A", "c.34G>T", "p.Gly12Cys", "missense_variant", "2/6"),
    Hotspot("KRAS", "G12A", "12", 25245350, "C", "G", "c.35G>C", "p.Gly12Ala", "missense_variant", "2/6"),
    Hotspot("KRAS", "G12S", "12", 25245351, "C", "T", "c.34G>A", "p.Gly12Ser", "missense_variant", "2/6"),
    Hotspot("KRAS", "G13D", "12", 25245347, "C", "T", "c.38G>A", "p.Gly13Asp", "missense_variant", "2/6"),
    Hotspot("KRAS", "Q61H", "12", 25227341, "T", "G", "c.183A>C", "p.Gln61His", "missense_variant", "3/6"),
    Hotspot("KRAS", "Q61L", "12", 25227342, "T", "A", "c.182A>T", "p.Gln61Leu", "missense_variant", "3/6"),
    Hotspot("KRAS", "A146T", "12", 25225628, "C", "T", "c.436G>A", "p.Ala146Thr", "missense_variant", "4/6"),
    # NRAS, minus strand: c.181 chr1:114713909, c.182 114713908, c.35 114716126, c.37 114716124.
    Hotspot("NRAS", "Q61K", "1", 114713909, "G", "T", "c.181C>A", "p.Gln61Lys", "missense_variant", "3/7"),
    Hotspot("NRAS", "Q61R", "1", 114713908, "T", "C", "c.182A>G", "p.Gln61Arg", "missense_variant", "3/7"),
    Hotspot("NRAS", "Q61L", "1", 114713908, "T", "A", "c.182A>T", "p.Gln61Leu", "missense_variant", "3/7"),
    Hotspot("NRAS", "G12D", "1", 114716126, "C", "T", "c.35G>A", "p.Gly12Asp", "missense_variant", "2/7"),
    Hotspot("NRAS", "G13R", "1", 114716124, "C", "G", "c.37G>C", "p.Gly13Arg", "missense_variant", "2/7"),
    # BRAF, minus strand: c.1799 chr7:140753336, c.1798 140753337 (V600K changes both: an MNV).
    Hotspot(
        "BRAF", "V600E", "7", 140753336, "A", "T", "c.1799T>A", "p.Val600Glu", "missense_variant", "15/18"
    ),
    Hotspot(
        "BRAF",
        "V600K",
        "7",
        140753336,
        "AC",
        "TT",
        "c.1798_1799delinsAA",
        "p.Val600Lys",
        "missense_variant",
        "15/18",
    ),
    # PIK3CA, plus strand.
    Hotspot(
        "PIK3CA", "E542K", "3", 179218294, "G", "A", "c.1624G>A", "p.Glu542Lys", "missense_variant", "10/21"
    ),
    Hotspot(
        "PIK3CA", "E545K", "3", 179218303, "G", "A", "c.1633G>A", "p.Glu545Lys", "missense_variant", "10/21"
    ),
    Hotspot(
        "PIK3CA", "H1047R", "3", 179234297, "A", "G", "c.3140A>G", "p.His1047Arg", "missense_variant", "21/21"
    ),
    Hotspot(
        "PIK3CA", "H1047L", "3", 179234297, "A", "T", "c.3140A>T", "p.His1047Leu", "missense_variant", "21/21"
    ),
    # EGFR, plus strand; the exon 19 deletion is anchored on c.2234 (chr7:55174771, A).
    Hotspot(
        "EGFR", "L858R", "7", 55191822, "T", "G", "c.2573T>G", "p.Leu858Arg", "missense_variant", "21/28"
    ),
    Hotspot(
        "EGFR",
        "E746_A750del",
        "7",
        55174771,
        "AGGAATTAAGAGAAGC",
        "A",
        "c.2235_2249del",
        "p.Glu746_Ala750del",
        "inframe_deletion",
        "19/28",
    ),
    # IDH1, minus strand.
    Hotspot("IDH1", "R132H", "2", 208248388, "C", "T", "c.395G>A", "p.Arg132His", "missense_variant", "4/10"),
    Hotspot("IDH1", "R132C", "2", 208248389, "G", "A", "c.394C>T", "p.Arg132Cys", "missense_variant", "4/10"),
    # TP53, minus strand.
    Hotspot("TP53", "R175H", "17", 7675088, "C", "T", "c.524G>A", "p.Arg175His", "missense_variant", "5/11"),
    Hotspot("TP53", "R248Q", "17", 7674220, "C", "T", "c.743G>A", "p.Arg248Gln", "missense_variant", "7/11"),
    Hotspot("TP53", "R248W", "17", 7674221, "G", "A", "c.742C>T", "p.Arg248Trp", "missense_variant", "7/11"),
    Hotspot("TP53", "R273H", "17", 7673802, "C", "T", "c.818G>A", "p.Arg273His", "missense_variant", "8/11"),
    Hotspot("TP53", "R273C", "17", 7673803, "G", "A", "c.817C>T", "p.Arg273Cys", "missense_variant", "8/11"),
    Hotspot("TP53", "R282W", "17", 7673776, "G", "A", "c.844C>T", "p.Arg282Trp", "missense_variant", "8/11"),
    # AKT1 (minus), SF3B1 (minus), APC (plus), PTEN (plus).
    Hotspot("AKT1", "E17K", "14", 104780214, "C", "T", "c.49G>A", "p.Glu17Lys", "missense_variant", ""),
    Hotspot(
        "SF3B1", "K700E", "2", 197402110, "T", "C", "c.2098A>G", "p.Lys700Glu", "missense_variant", "15/25"
    ),
    Hotspot("APC", "R1450*", "5", 112839942, "C", "T", "c.4348C>T", "p.Arg1450Ter", "stop_gained", "16/16"),
    Hotspot("PTEN", "R130*", "10", 87933147, "C", "T", "c.388C>T", "p.Arg130Ter", "stop_gained", "5/9"),
)


def hotspots_of(gene: str) -> tuple[Hotspot, ...]:
    """The hotspots of one gene, in table order."""
    return tuple(h for h in HOTSPOTS if h.gene == gene)


@dataclass(frozen=True, slots=True)
class GeneSpan:
    """An approximate GRCh38 gene body: 1-based inclusive ``start``..``end`` and the coding strand."""

    gene: str
    chrom: str
    start: int
    end: int
    strand: int


# Approximate GRCh38 gene bodies (Ensembl gene start/end rounded in memory, good to a few kb); used
# only to place synthetic non-hotspot driver events inside the gene and to name the gene of a
# passenger that lands in one. Symbols are HGNC symbols as IntOGen spells them.
_SPANS: tuple[tuple[str, str, int, int, int], ...] = (
    ("AKT1", "14", 104_769_349, 104_795_751, -1),
    ("ALK", "2", 29_192_774, 29_921_586, -1),
    ("AMER1", "X", 64_185_117, 64_205_708, -1),
    ("APC", "5", 112_707_498, 112_846_239, 1),
    ("AR", "X", 67_544_021, 67_730_619, 1),
    ("ARID1A", "1", 26_693_236, 26_782_104, 1),
    ("ARID2", "12", 45_729_665, 45_908_040, 1),
    ("ATM", "11", 108_222_484, 108_369_102, 1),
    ("ATRX", "X", 77_504_880, 77_786_233, -1),
    ("BAP1", "3", 52_401_004, 52_410_105, -1),
    ("BRAF", "7", 140_719_327, 140_924_929, -1),
    ("BRCA1", "17", 43_044_295, 43_125_483, -1),
    ("BRCA2", "13", 32_315_474, 32_400_266, 1),
    ("CDH1", "16", 68_737_292, 68_835_537, 1),
    ("CDK12", "17", 39_461_486, 39_567_338, 1),
    ("CDKN2A", "9", 21_967_752, 21_995_301, -1),
    ("CREBBP", "16", 3_725_054, 3_880_713, -1),
    ("CTCF", "16", 67_562_407, 67_639_185, 1),
    ("CTNNB1", "3", 41_194_741, 41_260_096, 1),
    ("EGFR", "7", 55_019_017, 55_211_628, 1),
    ("EP300", "22", 41_092_592, 41_180_079, 1),
    ("ERBB2", "17", 39_688_094, 39_728_658, 1),
    ("ERBB3", "12", 56_076_799, 56_103_505, 1),
    ("ESR1", "6", 151_656_691, 152_129_619, 1),
    ("FAT1", "4", 186_587_794, 186_726_722, -1),
    ("FAT4", "4", 125_316_399, 125_492_932, 1),
    ("FBXW7", "4", 152_320_544, 152_536_873, -1),
    ("FGFR2", "10", 121_478_334, 121_598_458, -1),
    ("FGFR3", "4", 1_793_293, 1_808_872, 1),
    ("FOXA1", "14", 37_589_552, 37_595_249, -1),
    ("GATA3", "10", 8_045_378, 8_075_198, 1),
    ("GNAS", "20", 58_839_718, 58_911_192, 1),
    ("HRAS", "11", 532_242, 537_287, -1),
    ("IDH1", "2", 208_236_227, 208_266_074, -1),
    ("KDM5C", "X", 53_176_629, 53_225_422, -1),
    ("KDM6A", "X", 44_873_188, 45_112_602, 1),
    ("KEAP1", "19", 10_486_125, 10_503_224, -1),
    ("KIT", "4", 54_657_918, 54_740_715, 1),
    ("KMT2A", "11", 118_436_490, 118_526_832, 1),
    ("KMT2C", "7", 152_134_922, 152_436_005, -1),
    ("KMT2D", "12", 49_018_975, 49_059_774, -1),
    ("KRAS", "12", 25_205_246, 25_250_936, -1),
    ("LRP1B", "2", 140_231_423, 142_131_016, -1),
    ("MAP2K1", "15", 66_386_837, 66_490_556, 1),
    ("MAP3K1", "5", 56_815_574, 56_896_152, 1),
    ("MED12", "X", 71_118_596, 71_142_454, 1),
    ("MTOR", "1", 11_106_535, 11_262_551, -1),
    ("NF1", "17", 31_094_927, 31_382_116, 1),
    ("NFE2L2", "2", 177_230_303, 177_265_131, -1),
    ("NOTCH1", "9", 136_494_433, 136_546_048, -1),
    ("NRAS", "1", 114_704_469, 114_716_894, -1),
    ("PBRM1", "3", 52_545_352, 52_685_917, -1),
    ("PIK3CA", "3", 179_148_114, 179_240_093, 1),
    ("PIK3R1", "5", 68_215_720, 68_301_821, 1),
    ("POLE", "12", 132_623_753, 132_687_376, -1),
    ("PTEN", "10", 87_863_113, 87_971_930, 1),
    ("PTPRD", "9", 8_314_246, 10_613_002, -1),
    ("RB1", "13", 48_303_747, 48_599_436, 1),
    ("RBM10", "X", 47_144_868, 47_186_813, 1),
    ("RNF43", "17", 58_352_500, 58_417_620, -1),
    ("SETD2", "3", 47_016_429, 47_164_914, -1),
    ("SF3B1", "2", 197_388_515, 197_435_079, -1),
    ("SMAD2", "18", 47_808_957, 47_931_146, -1),
    ("SMAD4", "18", 51_030_213, 51_085_042, 1),
    ("SMARCA4", "19", 10_960_932, 11_062_276, 1),
    ("SOX9", "17", 72_121_020, 72_126_416, 1),
    ("SPOP", "17", 49_598_884, 49_678_163, -1),
    ("STAG2", "X", 123_960_212, 124_102_656, 1),
    ("STK11", "19", 1_205_778, 1_228_431, 1),
    ("TBX3", "12", 114_670_254, 114_684_164, -1),
    ("TCF7L2", "10", 112_950_247, 113_167_678, 1),
    ("TGFBR2", "3", 30_606_502, 30_694_142, 1),
    ("TP53", "17", 7_661_779, 7_687_538, -1),
    ("TSC1", "9", 132_891_348, 132_945_269, -1),
    ("VHL", "3", 10_141_778, 10_153_667, 1),
    ("ZFHX3", "16", 72_782_885, 73_891_930, -1),
)

GENE_SPANS: dict[str, GeneSpan] = {row[0]: GeneSpan(*row) for row in _SPANS}
