"""SnpEff ANN and VEP CSQ parsing: field names from the header, the most severe annotation per allele."""

from __future__ import annotations

import gzip

import pytest

from conftest import fixture_path
from genofed.errors import FormatError
from genofed.ingest import Annotation, AnnotationParser, AnnotationStyle

SNPEFF_HEADER = (
    "##fileformat=VCFv4.2\n"
    "##INFO=<ID=ANN,Number=.,Type=String,Description=\"Functional annotations: 'Allele | Annotation | "
    "Annotation_Impact | Gene_Name | Gene_ID | Feature_Type | Feature_ID | Transcript_BioType | Rank | "
    "HGVS.c | HGVS.p | cDNA.pos / cDNA.length | CDS.pos / CDS.length | AA.pos / AA.length | Distance | "
    "ERRORS / WARNINGS / INFO' \">\n"
)
VEP_FIELDS = "Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|HGVSc|HGVSp|CANONICAL|PICK"
VEP_HEADER = (
    "##fileformat=VCFv4.2\n"
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. '
    f'Format: {VEP_FIELDS}">\n'
)


def _snpeff(
    allele: str, effect: str, gene: str = "G1", transcript: str = "T1", impact: str = "MODIFIER"
) -> str:
    fields = [allele, effect, impact, gene, gene, "transcript", transcript, "protein_coding", "1/2"]
    return "|".join([*fields, "c.1A>G", "p.Lys1Glu", "", "", "", "", ""])


def _vep(allele: str, effect: str, feature: str, *, canonical: str = "", pick: str = "") -> str:
    return "|".join(
        [allele, effect, "MODERATE", "BRAF", "ENSG1", "Transcript", feature, f"{feature}:c.1799T>A",
         "ENSP1:p.Val600Glu", canonical, pick]
    )  # fmt: skip


def test_from_header__reads_snpeff_field_names() -> None:
    parser = AnnotationParser.from_header(SNPEFF_HEADER)
    assert parser is not None
    assert parser.style is AnnotationStyle.SNPEFF
    assert parser.tag == "ANN"
    assert parser.fields[:4] == ("Allele", "Annotation", "Annotation_Impact", "Gene_Name")
    assert len(parser.fields) == 16


def test_from_header__reads_vep_field_names_from_a_real_balsamic_vcf() -> None:
    path = fixture_path("gms", "balsamic_vardict_vep.vcf.gz")
    with gzip.open(path, "rt") as handle:
        header = "".join(line for line in handle if line.startswith("##"))
    parser = AnnotationParser.from_header(header)
    assert parser is not None
    assert parser.style is AnnotationStyle.VEP
    assert parser.fields[:7] == (
        "Allele",
        "Consequence",
        "IMPACT",
        "SYMBOL",
        "Gene",
        "Feature_type",
        "Feature",
    )
    assert "CANONICAL" in parser.fields


def test_from_header__none_without_annotation() -> None:
    assert AnnotationParser.from_header("##fileformat=VCFv4.2\n") is None


def test_from_header__unreadable_description_names_the_header_line() -> None:
    header = '##fileformat=VCFv4.2\n##INFO=<ID=CSQ,Number=.,Type=String,Description="VEP output">\n'
    with pytest.raises(FormatError, match=r"line 2, field 'CSQ': cannot read the CSQ field names"):
        AnnotationParser.from_header(header)


def test_annotation_parser__requires_allele_and_consequence_fields() -> None:
    with pytest.raises(FormatError, match="declares no 'Consequence' field"):
        AnnotationParser(AnnotationStyle.VEP, ["Allele", "IMPACT", "SYMBOL"])


def test_most_severe__picks_the_most_severe_annotation_per_allele() -> None:
    parser = AnnotationParser.from_header(SNPEFF_HEADER)
    assert parser is not None
    value = ",".join(
        [
            _snpeff("G", "intron_variant", transcript="T2"),
            _snpeff("G", "missense_variant", transcript="T1", impact="MODERATE"),
            _snpeff("T", "synonymous_variant", transcript="T1", impact="LOW"),
            _snpeff("T", "upstream_gene_variant", transcript="T3"),
        ]
    )
    g, t = parser.most_severe(value, "A", ["G", "T"])
    assert g == Annotation(
        consequence="missense_variant",
        impact="MODERATE",
        gene="G1",
        transcript="T1",
        hgvs_c="c.1A>G",
        protein_change="p.K1E",
    )
    assert t is not None
    assert (t.consequence, t.impact) == ("synonymous_variant", "LOW")


def test_most_severe__ampersand_joined_terms_take_the_most_severe() -> None:
    parser = AnnotationParser.from_header(SNPEFF_HEADER)
    assert parser is not None
    value = ",".join(
        [
            _snpeff("G", "missense_variant", transcript="T1"),
            _snpeff("G", "splice_region_variant&stop_gained&intron_variant", transcript="T2"),
        ]
    )
    (best,) = parser.most_severe(value, "A", ["G"])
    assert best is not None
    assert (best.consequence, best.transcript) == ("stop_gained", "T2")


def test_most_severe__snpeff_names_become_so_terms() -> None:
    parser = AnnotationParser.from_header(SNPEFF_HEADER)
    assert parser is not None
    (best,) = parser.most_severe(_snpeff("C", "conservative_inframe_deletion"), "CATT", ["C"])
    assert best is not None
    assert best.consequence == "inframe_deletion"


def test_most_severe__unknown_term_is_kept_verbatim_and_counted() -> None:
    parser = AnnotationParser.from_header(SNPEFF_HEADER)
    assert parser is not None
    (best,) = parser.most_severe(_snpeff("G", "brand_new_effect", impact="LOW"), "A", ["G"])
    assert best is not None
    assert (best.consequence, best.impact) == ("brand_new_effect", "LOW")
    assert parser.unknown_terms == {"brand_new_effect": 1}


def test_most_severe__unknown_term_loses_to_any_known_term() -> None:
    parser = AnnotationParser.from_header(SNPEFF_HEADER)
    assert parser is not None
    value = ",".join([_snpeff("G", "brand_new_effect"), _snpeff("G", "intergenic_region")])
    (best,) = parser.most_severe(value, "A", ["G"])
    assert best is not None
    assert best.consequence == "intergenic_variant"
    assert parser.unknown_terms == {"brand_new_effect": 1}


def test_most_severe__intergenic_region_has_no_gene() -> None:
    parser = AnnotationParser.from_header(SNPEFF_HEADER)
    assert parser is not None
    region = "CHR_START-DUXAP8"
    value = f"G|intergenic_region|MODIFIER|{region}|{region}|intergenic_region|{region}|||n.1A>G||||||"
    (best,) = parser.most_severe(value, "A", ["G"])
    assert best == Annotation(consequence="intergenic_variant", impact="MODIFIER", hgvs_c="n.1A>G")


def test_most_severe__vep_pick_breaks_ties_before_canonical() -> None:
    parser = AnnotationParser.from_header(VEP_HEADER)
    assert parser is not None
    value = ",".join(
        [
            _vep("A", "missense_variant", "ENST_FIRST"),
            _vep("A", "missense_variant", "ENST_CANONICAL", canonical="YES"),
            _vep("A", "missense_variant", "ENST_PICKED", pick="1"),
            _vep("A", "intron_variant", "ENST_INTRON", pick="1"),
        ]
    )
    (best,) = parser.most_severe(value, "T", ["A"])
    assert best is not None
    assert best.transcript == "ENST_PICKED"
    assert best.hgvs_c == "c.1799T>A"
    assert best.protein_change == "p.V600E"


def test_most_severe__vep_canonical_breaks_ties_without_pick() -> None:
    parser = AnnotationParser.from_header(VEP_HEADER)
    assert parser is not None
    value = ",".join(
        [
            _vep("A", "missense_variant", "ENST_FIRST"),
            _vep("A", "missense_variant", "ENST_CANONICAL", canonical="YES"),
        ]
    )
    (best,) = parser.most_severe(value, "T", ["A"])
    assert best is not None
    assert best.transcript == "ENST_CANONICAL"


def test_most_severe__vep_alleles_without_the_shared_first_base() -> None:
    # REF=GA ALT=G,GAA: VEP drops the shared G and writes "-" for the deletion, "AA" for the insertion.
    parser = AnnotationParser.from_header(VEP_HEADER)
    assert parser is not None
    value = ",".join(
        [_vep("-", "frameshift_variant", "ENST_DEL"), _vep("AA", "inframe_insertion", "ENST_INS")]
    )
    deletion, insertion = parser.most_severe(value, "GA", ["G", "GAA"])
    assert deletion is not None
    assert insertion is not None
    assert (deletion.consequence, deletion.transcript) == ("frameshift_variant", "ENST_DEL")
    assert (insertion.consequence, insertion.transcript) == ("inframe_insertion", "ENST_INS")


def test_most_severe__vep_allele_num_maps_annotations() -> None:
    parser = AnnotationParser(AnnotationStyle.VEP, ["Allele", "Consequence", "ALLELE_NUM"])
    value = "X|missense_variant|2,Y|stop_gained|1"
    first, second = parser.most_severe(value, "C", ["A", "T"])
    assert first is not None
    assert second is not None
    assert (first.consequence, second.consequence) == ("stop_gained", "missense_variant")


def test_most_severe__single_alt_takes_annotations_whatever_the_allele_field() -> None:
    # VEP writes e.g. "insertion" as the allele of a long insertion (Scout's cancer demo VCF).
    parser = AnnotationParser.from_header(VEP_HEADER)
    assert parser is not None
    (best,) = parser.most_severe(_vep("insertion", "feature_elongation", "ENST1"), "A", ["AACTCTAAATTT"])
    assert best is not None
    assert best.consequence == "feature_elongation"


def test_most_severe__missing_value_gives_none_per_allele() -> None:
    parser = AnnotationParser.from_header(SNPEFF_HEADER)
    assert parser is not None
    assert parser.most_severe(None, "A", ["G", "T"]) == [None, None]


def test_most_severe__too_few_fields_is_an_error() -> None:
    parser = AnnotationParser(AnnotationStyle.VEP, ["Gene", "Allele", "Consequence"])
    with pytest.raises(FormatError, match=r"field 'CSQ': annotation 'BRAF\|A' has 2 fields"):
        parser.most_severe("BRAF|A", "T", ["A"])


def test_most_severe__real_vep_csq_of_a_gms_panel_vcf() -> None:
    import cyvcf2

    path = fixture_path("gms", "twist_solid_gms560_vep.qci.vcf")
    vcf = cyvcf2.VCF(str(path))
    parser = AnnotationParser.from_header(vcf.raw_header)
    assert parser is not None
    found = {}
    for variant in vcf:
        (best,) = parser.most_severe(variant.INFO.get("CSQ"), variant.REF, variant.ALT)
        assert best is not None
        found[best.gene] = best
    vcf.close()
    kras = found["KRAS"]
    assert (kras.consequence, kras.impact, kras.protein_change) == ("missense_variant", "MODERATE", "p.G12V")
    assert kras.transcript == "NM_033360.4"
    assert kras.hgvs_c == "c.35G>T"
    # VEP URL-encodes "=" in HGVSp: "p.Arg95%3D" is the synonymous p.R95=.
    assert found["INSRR"].protein_change == "p.R95="
