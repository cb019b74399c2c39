"""KGData: the data-directory layout, bad files, PyKEEN factories, knowledge graphs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kgforge.embed.data import KGData
from kgforge.embed.split import random_split
from kgforge.errors import DataError


def write_dir(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


GOOD = {
    # "c" has two definitions separated by three spaces, as WordNet offsets shared by synsets do
    "entity2text.tsv": "c\tcat, a small feline   to vomit\na\tant, an insect\nb\tbee, a flying insect\n",
    "relation2text.tsv": "_is_a\tis a\n_eats\teats\n",
    "train.tsv": "a\t_is_a\tb\nb\t_eats\tc\n\n",  # a blank line is skipped
    "valid.tsv": "c\t_is_a\ta\n",
    "test.tsv": "a\t_eats\tc\n",
}


def test_load_dir_keeps_text_file_order_and_text(tmp_path: Path) -> None:
    data = KGData.load_dir(write_dir(tmp_path / "d", GOOD))
    assert data.entities == ["c", "a", "b"]
    assert data.entity_text[0] == "cat, a small feline   to vomit"
    assert data.relations == ["_is_a", "_eats"]
    assert data.labeled_triples("train") == [("a", "_is_a", "b"), ("b", "_eats", "c")]
    assert data.train.dtype == torch.long and data.train.shape == (2, 3)
    assert data.split_entities("valid").tolist() == [0, 1]
    assert len(data.all_triples()) == 4
    assert data.entity_to_id["b"] == 2 and data.num_relations == 2


def test_round_trip_through_directory(tmp_path: Path) -> None:
    data = KGData.load_dir(write_dir(tmp_path / "d", GOOD))
    data.entity_text[1] = "ant,\tan insect\nwith legs"  # tabs/newlines must not break lines
    again = KGData.load_dir(data.to_dir(tmp_path / "out"))
    assert again.entities == data.entities
    assert again.entity_text[1] == "ant, an insect with legs"
    for split in ("train", "valid", "test"):
        assert torch.equal(again.triples(split), data.triples(split))


@pytest.mark.parametrize(
    ("file", "content", "line", "words"),
    [
        ("train.tsv", "a\t_is_a\tb\nb\t_eats\n", 2, "3 tab-separated fields"),
        ("train.tsv", "a\t_is_a\tb\nzebra\t_eats\tc\n", 2, "unknown head id 'zebra'"),
        ("valid.tsv", "c\t_is_a\tmoose\n", 1, "unknown tail id 'moose'"),
        ("test.tsv", "a\t_flies\tc\n", 1, "unknown relation id '_flies'"),
        ("entity2text.tsv", "a\tant\nb\t  \nc\tcat\n", 2, "missing text for 'b'"),
        ("entity2text.tsv", "a\tant\nb\tbee\na\tanother ant\nc\tcat\n", 3, "duplicate id 'a'"),
        ("relation2text.tsv", "_is_a\tis a\t!\n_eats\teats\n", 1, "2 tab-separated fields"),
    ],
)
def test_bad_files_name_file_and_line(
    tmp_path: Path, file: str, content: str, line: int, words: str
) -> None:
    root = write_dir(tmp_path / "d", {**GOOD, file: content})
    with pytest.raises(DataError) as info:
        KGData.load_dir(root)
    assert info.value.path == str(root / file)
    assert info.value.line == line
    assert words in str(info.value)


def test_missing_files_and_bad_encoding(tmp_path: Path) -> None:
    files = dict(GOOD)
    del files["entity2text.tsv"]
    root = write_dir(tmp_path / "d", files)
    with pytest.raises(DataError, match="missing entity2text.tsv"):
        KGData.load_dir(root)
    # without text the ids come from the triples and are their own text
    data = KGData.load_dir(root, require_text=False)
    assert data.entities == ["a", "b", "c"] and data.entity_text == data.entities
    with pytest.raises(DataError, match="missing train.tsv"):
        KGData.load_dir(write_dir(tmp_path / "e", {"valid.tsv": ""}))
    (root / "train.tsv").write_bytes(b"a\t_is_a\t\xff\n")
    with pytest.raises(DataError, match="not UTF-8"):
        KGData.load_dir(root, require_text=False)


def test_triples_factory_round_trip(tmp_path: Path) -> None:
    data = KGData.load_dir(write_dir(tmp_path / "d", GOOD))
    factories = [data.to_triples_factory(s) for s in ("train", "valid", "test")]
    assert factories[0].num_entities == 3 and factories[0].entity_to_id == data.entity_to_id
    back = KGData.from_triples_factory(*factories, entity_text=data.entity_text)
    assert back.entities == data.entities and back.entity_text == data.entity_text
    assert torch.equal(back.test, data.test)
    assert back.relation_text == ["is a", "eats"]  # labels read as text by default


def test_random_split_keeps_heldout_entities_in_train() -> None:
    g = torch.Generator().manual_seed(0)
    triples = torch.unique(
        torch.randint(0, 40, (300, 3), generator=g) % torch.tensor([40, 3, 40]), dim=0
    )
    train, valid, test = random_split(triples, 0.1, 0.2, seed=3)
    assert len(train) + len(valid) + len(test) == len(triples)
    seen = set(train[:, [0, 2]].flatten().tolist())
    for held in (valid, test):
        assert set(held[:, [0, 2]].flatten().tolist()) <= seen
    again = random_split(triples, 0.1, 0.2, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(again, (train, valid, test), strict=True))


def test_from_graph_reads_rel_facts_and_entity_text() -> None:
    from rdflib import Literal, URIRef
    from rdflib.namespace import DCTERMS, RDF, RDFS

    from kgforge.graph.namespaces import (
        ENTITIES_GRAPH,
        KGF,
        PREDICTED_GRAPH,
        document_iri,
        entity_iri,
        relation_iri,
    )
    from kgforge.graph.store import KnowledgeGraph

    names = [f"person {i}" for i in range(12)]
    ents = [entity_iri(n) for n in names]
    works, knows = relation_iri("works_for"), relation_iri("knows")
    with KnowledgeGraph.open(":memory:") as kg:
        doc = document_iri("doc1")
        for i, e in enumerate(ents):
            kg.add((e, knows, ents[(i + 1) % len(ents)]), graph=doc)
            kg.add((e, works, ents[(i + 5) % len(ents)]), graph=doc)
            kg.add((e, KGF.note, Literal("not a relation")), graph=doc)
            if i < 10:  # two entities have no record and get a label from their IRI
                kg.add((e, RDFS.label, Literal(names[i])), graph=ENTITIES_GRAPH)
                kg.add((e, DCTERMS.description, Literal(f"met {i}")), graph=ENTITIES_GRAPH)
            kg.add((e, RDF.type, KGF.Entity), graph=ENTITIES_GRAPH)
        kg.add((ents[0], works, URIRef("https://example.org/predicted")), graph=PREDICTED_GRAPH)
        data = KGData.from_graph(kg, valid_fraction=0.1, test_fraction=0.1, seed=0)
        only = KGData.from_graph(kg, graphs=[str(doc)], valid_fraction=0.0, test_fraction=0.0)
        inductive = KGData.from_graph(kg, valid_fraction=2, test_fraction=2, inductive=True)
    assert data.num_entities == 12 and sorted(data.relations) == sorted([str(works), str(knows)])
    assert len(data.all_triples()) == 24 and len(only.train) == 24
    text = dict(zip(data.entities, data.entity_text, strict=True))
    assert text[str(ents[3])] == "person 3: met 3"
    assert text[str(ents[11])] == "person 11"
    assert set(data.relation_text) == {"works for", "knows"}
    seen = set(torch.cat([inductive.train, inductive.valid])[:, [0, 2]].flatten().tolist())
    unseen = set(inductive.split_entities("test").tolist()) - seen
    assert len(unseen) == 2 and len(inductive.all_triples()) == 24


def test_shared_wn18rr_ind_loads(shared_data: Path) -> None:
    data = KGData.load_dir(shared_data / "wn18rr-ind")
    assert (len(data.train), len(data.valid), len(data.test)) == (69585, 11381, 12037)
    assert data.num_entities == 40943 and data.num_relations == 11
    test_only = set(data.split_entities("test").tolist()) - set(
        torch.cat([data.train, data.valid])[:, [0, 2]].flatten().tolist()
    )
    assert len(test_only) == 4094
