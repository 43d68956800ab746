"""The adapter registry and ``genofed sources``: each adapter registers once, listed with what it reads."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from genofed import ingest
from genofed.cli import _sources as sources_cli
from genofed.cli import app
from genofed.ingest import AdapterInfo, register_adapter, registered_adapters
from genofed.ingest import _registry as registry

runner = CliRunner()
assert sources_cli.sources_command is not None  # the import registers `genofed sources`

# Adapters that exist as SourceReader classes in genofed.ingest, by their catalog kind.
READERS = {
    "VcfReader": "vcf",
    "ClinicalReader": "clinical",
    "HartwigReader": "hartwig",
    "GmsReader": "gms",
    "PhenopacketReader": "phenopackets",
}


def test_registered_adapters__vcf_and_clinical_with_their_versions() -> None:
    adapters = {a.name: a for a in registered_adapters()}
    assert "VCF 4.1–4.3 (plain, gzip, BGZF)" in adapters["vcf"].reads
    assert {"SnpEff ANN", "Ensembl VEP CSQ"} <= set(adapters["vcf"].reads)
    assert "genofed mapping file v1 (YAML)" in adapters["clinical"].reads
    names = [a.name for a in registered_adapters()]
    assert names == sorted(names)


def test_registered_adapters__names_are_the_readers_kinds() -> None:
    # An adapter's registered name is the kind its reader records in the catalog.
    for class_name, kind in READERS.items():
        reader = getattr(ingest, class_name, None)
        if reader is not None:
            assert reader.kind == kind
    known = {a.name for a in registered_adapters()}
    assert {"vcf", "clinical"} <= known


def test_register_adapter__same_again_is_a_no_op_different_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "_ADAPTERS", dict(registry._ADAPTERS))
    info = AdapterInfo("demo", "a test format", ("demo 1.0",), "genofed ingest demo FILE --store DIR")
    assert register_adapter(info) is info
    register_adapter(
        AdapterInfo("demo", "a test format", ("demo 1.0",), "genofed ingest demo FILE --store DIR")
    )
    assert [a.name for a in registered_adapters()].count("demo") == 1
    with pytest.raises(ValueError, match="'demo' is registered twice, with different declarations"):
        register_adapter(AdapterInfo("demo", "another", ("demo 2.0",), "genofed ingest demo FILE"))


def test_adapter_info__checks_name_and_reads() -> None:
    with pytest.raises(ValueError, match="short identifier"):
        AdapterInfo("two words", "x", ("y",), "z")
    with pytest.raises(ValueError, match="'empty': say which formats or versions it reads"):
        AdapterInfo("empty", "x", (), "z")


def test_sources_command__lists_every_registered_adapter() -> None:
    result = runner.invoke(app, ["sources", "--plain"])
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert [line[0] for line in lines] == [a.name for a in registered_adapters()]
    by_name = {line[0]: line for line in lines}
    assert "VCF 4.1–4.3" in by_name["vcf"][1]
    assert "Ensembl VEP CSQ" in by_name["vcf"][1]
    assert by_name["clinical"][2] == "genofed ingest clinical TABLE... --mapping FILE --store DIR"


def test_sources_command__table() -> None:
    result = runner.invoke(app, ["sources"])
    assert result.exit_code == 0, result.output
    assert "ingest adapters" in result.output
    for adapter in registered_adapters():
        assert adapter.name in result.output
    # Rich wraps cells to the console's width: look for short words only.
    assert "CSQ" in result.output
    assert "YAML" in result.output
