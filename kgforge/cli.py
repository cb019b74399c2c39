"""The ``kgforge`` command line.

Every command is a thin shell over the Python API of its layer. Exit codes and messages:

- a user's error (``KGForgeError``): one line ``error: FILE:LINE (field 'x'): message``, exit 1
  (``--debug`` shows the traceback);
- a usage error (unknown command or option, missing or invalid value): click's usage message,
  exit 2;
- Ctrl-C: ``Aborted!``, exit 130; finished batches and checkpoints stay, so the run resumes;
- anything else is a bug in kgforge and keeps its traceback, exit 1.

Global options (before the command): ``-q/--quiet`` hides every progress bar and log line below
warnings (kgforge's and the model libraries'), ``-v/--verbose`` shows INFO (``-vv`` DEBUG) logs.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Literal

import typer
from typer.core import TyperGroup

from kgforge.errors import ConfigError, KGForgeError
from kgforge.progress import set_progress

# Choices of the options below; tests/test_cli.py checks that they match the library's own.
ResultFormat = Literal["table", "csv", "tsv", "json"]  # kgforge.graph.results.RESULT_FORMATS
StatsFormat = Literal["table", "json"]
OnError = Literal["fail", "skip"]  # kgforge.corpus.reader.OnError
Engine = Literal["local", "ray"]  # kgforge.extract.run.Engine
Split = Literal["train", "valid", "test"]  # kgforge.embed.data.Split
Protocol = Literal["dynamic", "transductive", "transfer"]  # kgforge.embed.evaluate.EvalProtocol
GraphContext = Literal["none", "split"]  # kgforge.embed.graph_encoder.Context
Direction = Literal["tails", "heads", "both"]  # kgforge.transfer.links.Direction
Calibration = Literal["platt", "isotonic", "none"]  # kgforge.transfer.calibration.METHODS
SearchMode = Literal["bm25", "dense", "hybrid"]  # kgforge.transfer.retrieval.Mode
Classifier = Literal["logreg", "mlp"]  # kgforge.transfer.classify.Kind


class _Group(TyperGroup):
    """The app's command group: maps interrupts and end-of-file errors to exit codes.

    This runs inside click's own handling, which typer and click versions do differently: typer
    0.29 turns Ctrl-C into a silent exit 130, click into "Aborted!" with exit 1, and both report
    any ``EOFError`` (a truncated gzip file, an empty torch checkpoint) as an abort. kgforge never
    prompts, so an ``EOFError`` is never the user ending input: it is an error to report.
    """

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            typer.echo("Aborted!", err=True)
            raise typer.Exit(130) from None
        except EOFError as exc:
            raise RuntimeError(f"unexpected end of data: {exc}") from exc


app = typer.Typer(
    name="kgforge",
    cls=_Group,
    help="Turn text into a knowledge graph, query it with SPARQL, and learn inductive entity "
    "embeddings from entity text.",
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain usage messages: one format whatever is installed
    add_completion=False,
)

_state = {"debug": False}


def _configure_output(quiet: bool, verbose: int) -> None:
    """Set up logging once for the process (one stderr handler) and the progress switch.

    Library modules only call ``logging.getLogger(__name__)``; this is the one place that decides
    what is shown: warnings by default, INFO lines with ``-v``, DEBUG lines with ``-vv``. The
    handler's level filters too, so a library that sets its own logger to DEBUG stays quiet.
    ``quiet`` wins over ``verbose``.
    """
    _undo_quiet()
    verbose = 0 if quiet else verbose
    _log_level(logging.DEBUG if verbose >= 2 else logging.INFO if verbose else logging.WARNING)
    if quiet:
        _quiet()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _log_level(level: int) -> None:
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        root.addHandler(handler)
    handler.setLevel(level)
    root.setLevel(level)


# Read by transformers and huggingface_hub when they are imported (commands import them late).
_QUIET_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "warning",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}
_saved_env: dict[str, str | None] = {}


def _quiet() -> None:
    """Hide kgforge's progress bars and the model libraries' own bars and chatter."""
    set_progress(False)
    _log_level(logging.WARNING)
    for name, value in _QUIET_ENV.items():
        _saved_env.setdefault(name, os.environ.get(name))
        os.environ[name] = value
    if "transformers" in sys.modules:  # model-loading bars follow set_progress (library_bars)
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_warning()
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()


def _undo_quiet() -> None:
    """Back to the defaults before each invocation (several run in one process under tests)."""
    set_progress(None)
    for name, value in _saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _saved_env.clear()


@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress bars, no log lines below warnings."
    ),
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="Log INFO lines (-vv: DEBUG) to stderr."
    ),
) -> None:
    if ctx.invoked_subcommand is None:  # `kgforge` alone: the help, as a usage error (exit 2)
        typer.echo(ctx.get_help(), err=True)
        raise typer.Exit(2)
    _state["debug"] = debug
    _configure_output(quiet, verbose)


def run() -> None:
    """Entry point: run the app, turning user errors into one-line messages (exit 1).

    click itself prints usage errors (exit 2); ``_Group`` maps Ctrl-C to exit 130.
    """
    try:
        app()
    except KGForgeError as exc:
        if _state["debug"]:
            raise
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except KeyboardInterrupt:  # before or after the command ran (start-up, teardown)
        typer.echo("Aborted!", err=True)
        sys.exit(130)


# ---- graph commands (kgforge.graph): query, update, load, export, stats ------------------
def _open_store(store: str, backend: str | None, *, write: bool):
    """Open STORE for the CLI: read commands open on-disk stores read-only, so they never take
    the write lock and work while another process writes."""
    from kgforge.graph.store import KnowledgeGraph

    return KnowledgeGraph.open(store, backend, read_only=not write, create=write)


_STORE_HELP = "Store: a directory (embedded Oxigraph), an http(s):// SPARQL endpoint, or :memory:."


def _sparql_text(sparql: str | None, file: str | None) -> str:
    if (sparql is None) == (file is None):
        raise typer.BadParameter("give the SPARQL text as an argument or with --file, not both")
    if file is None:
        return sparql  # type: ignore[return-value]
    from pathlib import Path

    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KGForgeError(f"{file}: {getattr(exc, 'strerror', None) or exc}") from None


def _graph_option(graph: str | None):
    from kgforge.graph.terms import graph_iri

    return None if graph is None else graph_iri(graph, "--graph")


@app.command("query")
def query_command(
    store: str = typer.Argument(..., help=_STORE_HELP),
    sparql: str | None = typer.Argument(None, help="The SPARQL query (or use --file)."),
    file: str | None = typer.Option(None, "--file", "-f", help="Read the query from a .rq file."),
    format: ResultFormat = typer.Option(
        "table",
        "--format",
        help="Output: table (at most 1,000 rows), or csv, tsv, json (SPARQL results, streamed).",
    ),
    backend: str | None = typer.Option(None, "--backend", help="oxigraph, memory or sparql."),
) -> None:
    """Run a SPARQL query (kgforge's prefixes ent:, rel:, kgf:, rdfs:, ... are predeclared)."""
    from kgforge.graph.results import format_result

    text = _sparql_text(sparql, file)
    with _open_store(store, backend, write=False) as kg:
        if format != "table":
            sys.stdout.flush()
            if kg.write_results(text, sys.stdout.buffer, format):
                sys.stdout.buffer.flush()
                return
        typer.echo(format_result(kg.query(text), format))


@app.command("update")
def update_command(
    store: str = typer.Argument(..., help=_STORE_HELP),
    sparql: str | None = typer.Argument(None, help="The SPARQL UPDATE (or use --file)."),
    file: str | None = typer.Option(None, "--file", "-f", help="Read the update from a .ru file."),
    backend: str | None = typer.Option(None, "--backend", help="oxigraph, memory or sparql."),
) -> None:
    """Run a SPARQL 1.1 UPDATE in one transaction: all of it or, on error, none of it."""
    text = _sparql_text(sparql, file)
    with _open_store(store, backend, write=True) as kg:
        before = len(kg)
        kg.update(text)
        typer.echo(f"update applied; the store had {before} statements and has {len(kg)}")


@app.command("load")
def load_command(
    store: str = typer.Argument(..., help=_STORE_HELP),
    files: list[str] = typer.Argument(..., help="RDF files (ttl, nt, nq, trig, jsonld, rdf)."),
    format: str | None = typer.Option(
        None, "--format", help="Input format (default: by extension)."
    ),
    graph: str | None = typer.Option(None, "--graph", help="Named graph IRI for triple files."),
    bulk: bool = typer.Option(
        False,
        "--bulk",
        help="Oxigraph's bulk loader (faster, not atomic if interrupted); on an endpoint, each "
        "file streamed to its Graph Store protocol (URL/store) in one request.",
    ),
    backend: str | None = typer.Option(None, "--backend", help="oxigraph, memory or sparql."),
) -> None:
    """Load RDF files into a store: all of them or none (unless --bulk)."""
    target = _graph_option(graph)
    with _open_store(store, backend, write=True) as kg:
        total = 0
        if bulk:
            for file in files:
                total += kg.load(file, format, target, bulk=True)
        else:
            with kg.transaction():
                for file in files:
                    total += kg.load(file, format, target)
        typer.echo(f"loaded {total} statements from {len(files)} file(s); store has {len(kg)}")


@app.command("export")
def export_command(
    store: str = typer.Argument(..., help=_STORE_HELP),
    format: str | None = typer.Option(
        None,
        "--format",
        help="ttl, nt, nq, trig or jsonld (default: by --output extension, else nq); "
        "jsonl writes one extracted statement per line with its provenance.",
    ),
    output: str | None = typer.Option(
        None, "--output", "-o", help="File to write (default: stdout)."
    ),
    graph: str | None = typer.Option(None, "--graph", help="Export only this named graph."),
    union: bool = typer.Option(
        False, "--union", help="ttl/nt: merge all graphs into one (graph names are dropped)."
    ),
    backend: str | None = typer.Option(None, "--backend", help="oxigraph, memory or sparql."),
) -> None:
    """Export a store (or one named graph) as RDF, or its extracted statements as JSON lines."""
    from kgforge.graph.formats import EXPORT_FORMATS

    if format == "jsonl" or (format is None and output is not None and output.endswith(".jsonl")):
        from kgforge.extract.export import export_jsonl

        with _open_store(store, backend, write=False) as kg:
            export_jsonl(kg, sys.stdout if output is None else output)
        return
    if format is not None and format not in EXPORT_FORMATS:
        from kgforge.errors import UnknownFormatError

        raise UnknownFormatError(
            f"unknown export format {format!r}: known formats are "
            f"{', '.join((*EXPORT_FORMATS, 'jsonl'))}"
        )
    target = _graph_option(graph)
    with _open_store(store, backend, write=False) as kg:
        if output is not None:
            kg.export(output, format, target, union=union)
            return
        sys.stdout.flush()
        kg.export(sys.stdout.buffer, format or "nq", target, union=union)
        sys.stdout.buffer.flush()


@app.command("stats")
def stats_command(
    store: str = typer.Argument(..., help=_STORE_HELP),
    format: StatsFormat = typer.Option("table", "--format", help="table or json."),
    backend: str | None = typer.Option(None, "--backend", help="oxigraph, memory or sparql."),
) -> None:
    """Count statements, entities, relation predicates, documents and named graphs."""
    import json

    with _open_store(store, backend, write=False) as kg:
        stats = kg.stats()
    if format == "json":
        typer.echo(json.dumps(stats))
    else:
        width = max(map(len, stats))
        typer.echo("\n".join(f"{name:<{width}}  {value:>10,}" for name, value in stats.items()))


@app.command("serve")
def serve_command(
    store: str = typer.Argument(..., help="Store directory (embedded Oxigraph) to serve."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback)."),
    port: int = typer.Option(7878, "--port", min=1, max=65535, help="TCP port."),
    read_only: bool = typer.Option(
        False, "--read-only", help="Queries only (oxigraph serve-read-only)."
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", min=1, help="Seconds a query may run (Oxigraph's --timeout-s)."
    ),
) -> None:
    """Serve a store over the SPARQL 1.1 protocol with `oxigraph serve` until Ctrl-C."""
    from kgforge.graph.serve import serve

    server = serve(store, host=host, port=port, read_only=read_only, timeout=timeout)
    what = "query" if read_only else "query: /query, update: /update, graph store: /store"
    typer.echo(f"serving {store} at {server.url} ({what}); Ctrl-C stops", err=True)
    code = server.wait()
    if code not in (0, -2, -15):  # stopped by Ctrl-C or SIGTERM
        raise KGForgeError(f"oxigraph serve exited with status {code}")


# ---- extraction commands (kgforge.extract): extract, train-relations, evaluate-extraction --
@app.command("extract")
def extract_command(
    corpus: str = typer.Argument(
        ..., help="A folder of .txt/.md files, or a JSONL/CSV file or folder (optionally .gz)."
    ),
    store: str = typer.Option(..., "--store", help=_STORE_HELP),
    pipeline: str = typer.Option(
        "default", "--pipeline", help="Pipeline name (pipelines/NAME.yaml) or YAML path."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="spaCy processes (n_process; default 1), or Ray actors with --engine ray "
        "(default: the cluster's CPUs).",
    ),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Documents per batch."),
    on_error: OnError = typer.Option(
        "fail", "--on-error", help="Broken corpus records: fail (stop) or skip (count them)."
    ),
    prune: bool = typer.Option(
        False, "--prune", help="Drop documents of this corpus that are no longer in it."
    ),
    id_field: str = typer.Option("id", "--id-field", help="JSONL key / CSV column of the id."),
    text_field: str = typer.Option(
        "text", "--text-field", help="JSONL key / CSV column of the text."
    ),
    id_prefix: str = typer.Option(
        "", "--id-prefix", help="Put before every document id (two corpora with the same names)."
    ),
    backend: str | None = typer.Option(None, "--backend", help="oxigraph, memory or sparql."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Same as kgforge -q extract."),
    link_to: str | None = typer.Option(
        None, "--link-to", help="A store or RDF file whose entities mentions link to first."
    ),
    engine: Engine = typer.Option(
        "local", "--engine", help="local (this process and --workers) or ray (Ray actors)."
    ),
    address: str | None = typer.Option(
        None,
        "--address",
        help="Ray cluster to join: auto, ray://HOST:10001 (default: a new local one).",
    ),
    entities_in_memory: int | None = typer.Option(
        None,
        "--entities-in-memory",
        min=1,
        help="Entities the resolver keeps in memory, the others wait in a temporary file "
        "(default 20,000).",
    ),
) -> None:
    """Extract entities and relations from a corpus into a store, incrementally."""
    from kgforge.corpus import read_corpus
    from kgforge.extract.link import check_reference
    from kgforge.extract.pipeline import load_pipeline
    from kgforge.extract.run import extract

    if quiet:
        _quiet()
    # corpus and pipeline first: a typo in either must not create a store
    reader = read_corpus(
        corpus,
        id_field=id_field,
        text_field=text_field,
        on_error=on_error,
        id_prefix=id_prefix,
    )
    pipe = load_pipeline(pipeline)
    if link_to is not None:
        check_reference(link_to)
    with _open_store(store, backend, write=True) as kg:
        summary = extract(
            reader,
            kg,
            pipe,
            workers=workers,
            batch_size=batch_size,
            prune=prune,
            link_to=link_to,
            engine=engine,
            address=address,
            **({} if entities_in_memory is None else {"entities_in_memory": entities_in_memory}),
        )
    typer.echo(str(summary))


@app.command("resolve")
def resolve_command(
    store: str = typer.Argument(..., help=_STORE_HELP),
    pipeline: str = typer.Option(
        "default", "--pipeline", help="Pipeline whose resolution settings to apply."
    ),
    link_to: str | None = typer.Option(
        None, "--link-to", help="A store or RDF file whose entities mentions link to first."
    ),
    backend: str | None = typer.Option(None, "--backend", help="oxigraph, memory or sparql."),
) -> None:
    """Resolve a store's entities again (other resolution settings) without parsing again."""
    from kgforge.extract.pipeline import load_pipeline
    from kgforge.extract.run import resolve_store

    pipe = load_pipeline(pipeline)
    with _open_store(store, backend, write=True) as kg:
        rewritten = resolve_store(kg, pipe, link_to=link_to)
    typer.echo(f"{rewritten} document graphs rewritten; entity records rebuilt")


@app.command("train-relations")
def train_relations_command(
    train: str = typer.Option(..., "--train", help="Gold JSONL (CoNLL04 format) to train on."),
    output: str = typer.Option(..., "--output", help="Relation classifier file to write."),
    dev: str | None = typer.Option(
        None, "--dev", help="Gold JSONL for early stopping (default: a held-out part of --train)."
    ),
    entity_output: str | None = typer.Option(
        None, "--entity-output", help="Also train the entity-type refiner and write it here."
    ),
    encoder: str | None = typer.Option(
        None, "--encoder", help="sentence-transformers model name or path (default: MiniLM-L6)."
    ),
    pipeline: str = typer.Option(
        "conll04", "--pipeline", help="Pipeline whose spaCy mentions the refiner learns to fix."
    ),
    held_out: float = typer.Option(
        0.15, "--held-out", min=0.0, max=1.0, help="Fraction of --train held out."
    ),
    epochs: int = typer.Option(40, "--epochs", min=1),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train the relation classifier (and entity-type refiner) of a classifier pipeline."""
    from kgforge.extract.trained.training import train_from_gold

    summary = train_from_gold(
        train,
        output,
        dev_path=dev,
        entity_output=entity_output,
        encoder=encoder,
        pipeline=pipeline,
        held_out=held_out,
        epochs=epochs,
        seed=seed,
    )
    typer.echo(str(summary))


@app.command("train-extractor")
def train_extractor_command(
    train: str = typer.Option(..., "--train", help="Gold JSONL (CoNLL04 format) to train on."),
    output: str = typer.Option(..., "--output", "-o", help="Joint extractor model file to write."),
    dev: str | None = typer.Option(
        None,
        "--dev",
        help="Gold JSONL scored after every epoch; the saved model is the epoch with the best "
        "dev strict relation F1 (config select: best_dev, the default; --set select=last keeps "
        "the last epoch).",
    ),
    config: str | None = typer.Option(
        None, "--config", help="YAML of JointConfig fields (a `joint:` section is read if there)."
    ),
    set_values: list[str] = typer.Option(
        [], "--set", help="Override a config field: key=value (repeatable), e.g. epochs=20."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from OUTPUT.ckpt (written after every epoch)."
    ),
    json_out: str | None = typer.Option(None, "--json", help="Write the summary and history here."),
) -> None:
    """Train the joint entity + relation extractor (SpERT-style, fine-tuned transformer) of a
    `kind: joint` pipeline, e.g. pipelines/conll04_joint.yaml."""
    import dataclasses
    import json
    from pathlib import Path

    import yaml

    from kgforge.extract.trained.joint import load_joint_config
    from kgforge.extract.trained.joint_training import train_joint

    overrides = {}
    for item in set_values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        try:
            overrides[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            overrides[key.strip()] = raw
    joint_config = load_joint_config(config, overrides)
    summary = train_joint(train, output, joint_config, dev_path=dev, resume=resume)
    typer.echo(str(summary))
    if json_out is not None:
        blob = {"config": joint_config.model_dump(mode="json"), **dataclasses.asdict(summary)}
        Path(json_out).write_text(json.dumps(blob, indent=2) + "\n", encoding="utf-8")


@app.command("evaluate-extraction")
def evaluate_extraction_command(
    gold: str = typer.Argument(
        ..., help="Gold JSONL: CoNLL04 format, or Text2KGBench ground truth with --schema."
    ),
    pipeline: str | None = typer.Option(
        None,
        "--pipeline",
        help="Pipeline name or YAML path (default: conll04, or with --schema "
        "a schema pipeline of that ontology).",
    ),
    schema: str | None = typer.Option(
        None, "--schema", help="Ontology (Text2KGBench JSON or RDFS/OWL): Text2KGBench's metrics."
    ),
    examples: str | None = typer.Option(
        None, "--examples", help="With --schema: annotated sentences to train on."
    ),
    json_out: str | None = typer.Option(None, "--json", help="Also write the scores here."),
) -> None:
    """Strict micro P/R/F1 of extracted relations (spans, types and relation all correct), or
    with --schema Text2KGBench's P/R/F1, conformance and hallucination rates."""
    import json
    from pathlib import Path

    if schema is not None:
        from kgforge.extract.schema.evaluate import evaluate_schema, format_scores, schema_pipeline

        pipe = schema_pipeline(schema, examples) if pipeline is None else pipeline
        if isinstance(pipe, str):
            from kgforge.extract.pipeline import load_pipeline

            pipe = load_pipeline(pipe)
        result = evaluate_schema(gold, schema, pipe)
        typer.echo(format_scores({Path(schema).stem: result["scores"]}))
        scores = {"gold": gold, "ontology": schema, "scores": result["scores"]}
    else:
        from kgforge.extract.evaluate import evaluate_extraction, format_scores

        scores = evaluate_extraction(gold, pipeline or "conll04")
        typer.echo(format_scores(scores))
    text = json.dumps(scores, indent=2)
    if json_out is not None:
        Path(json_out).write_text(text + "\n", encoding="utf-8")
    else:
        typer.echo(text)


# ---- embedding commands (kgforge.embed): train, evaluate, split ----------------------------
@app.command("train")
def train_command(
    config: str = typer.Argument(..., help="Training config (YAML), e.g. pipelines/*.yaml."),
    data: str | None = typer.Option(None, "--data", help="Data directory (overrides the config)."),
    output: str | None = typer.Option(
        None, "--output", "-o", help="Output directory (overrides the config)."
    ),
    set_values: list[str] = typer.Option(
        [], "--set", help="Override a config field: key.path=value (repeatable)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from the last checkpoint in the output directory."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Same as kgforge -q train."),
    distributed: bool = typer.Option(
        False,
        "--distributed",
        help="Data-parallel over the ranks torchrun starts (DDP; NCCL on GPUs, gloo on CPUs).",
    ),
) -> None:
    """Train a link predictor (encoder + scorer) and evaluate it on valid and test."""
    from kgforge.embed.pipeline import train

    if quiet:
        _quiet()
    result = train(
        config,
        data=data,
        output=output,
        resume=resume,
        set_values=set_values,
        distributed=distributed,
    )
    if os.environ.get("RANK", "0") == "0":  # one summary, rank 0's
        typer.echo(result.summary())


@app.command("evaluate")
def evaluate_command(
    output_dir: str = typer.Argument(..., help="Output directory of `kgforge train` (or a model)."),
    data: str = typer.Option(..., "--data", help="Data directory (train/valid/test.tsv, text)."),
    split: Split = typer.Option("test", "--split", help="Split to rank: train, valid or test."),
    protocol: Protocol = typer.Option(
        "dynamic",
        "--protocol",
        help="Candidates: dynamic (all entities of all splits), transductive (all entities), "
        "transfer (the split's own entities).",
    ),
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="Queries scored per batch."),
    device: str | None = typer.Option(None, "--device", help="cpu, cuda, ... (default: model's)."),
    unfiltered: bool = typer.Option(
        False, "--unfiltered", help="Do not filter other known true triples from the ranking."
    ),
    context: GraphContext = typer.Option(
        "none",
        "--context",
        help="Graph encoders: none (text only: new entities have no edges) or split (they may "
        "use the split's other triples; the scored one never).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Same as kgforge -q evaluate."),
) -> None:
    """Rank a split's triples with a trained model; print filtered MRR, MR, Hits@k as JSON."""
    import json

    from kgforge.embed.evaluate import evaluate

    if quiet:
        _quiet()
    result = evaluate(
        output_dir,
        data,
        split=split,
        protocol=protocol,
        batch_size=batch_size,
        device=device,
        filtered=not unfiltered,
        context=context,
    )
    typer.echo(json.dumps(result, indent=2))


@app.command("split")
def split_command(
    triples_dir: str = typer.Argument(
        ..., help="Data directory; all its triples (train/valid/test.tsv) are split anew."
    ),
    output: str = typer.Option(..., "--output", "-o", help="Directory for the new split."),
    test: float = typer.Option(
        0.1,
        "--test",
        min=0.0,
        help="Test entities: a count, or a fraction of all entities if below 1.",
    ),
    valid: float = typer.Option(
        0.1, "--valid", min=0.0, help="Validation entities: a count, or a fraction if below 1."
    ),
    min_relation_edges: int = typer.Option(
        1, "--min-relation-edges", min=0, help="Training edges every relation must keep."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same split)."),
) -> None:
    """Make an inductive split (BLP protocol): held-out entities never occur in training."""
    from kgforge.embed.data import KGData
    from kgforge.embed.split import make_inductive_split

    kg = KGData.load_dir(triples_dir, require_text=False)
    parts = make_inductive_split(
        kg.all_triples(),
        num_test_entities=test,
        num_valid_entities=valid,
        min_relation_edges=min_relation_edges,
        seed=seed,
    )
    kg.with_splits(parts.train, parts.valid, parts.test).to_dir(output)
    typer.echo(
        f"{output}: train {len(parts.train)}, valid {len(parts.valid)}, test {len(parts.test)} "
        f"triples; {len(parts.valid_entities)} valid and {len(parts.test_entities)} test entities"
    )


@app.command("dataset")
def dataset_command(
    store: str = typer.Argument(..., help=_STORE_HELP),
    output: str = typer.Option(..., "--output", "-o", help="Data directory to write."),
    inductive: bool = typer.Option(
        False, "--inductive", help="Hold out entities (BLP protocol) instead of triples."
    ),
    test: float | None = typer.Option(
        None,
        "--test",
        min=0.0,
        help="Test share (of entities if --inductive, where a whole number is a count); "
        "default 0.1, adapted to small graphs.",
    ),
    valid: float | None = typer.Option(None, "--valid", min=0.0, help="Validation share."),
    keep_types: bool = typer.Option(
        False, "--keep-types", help="Keep type (is_a) statements as a relation."
    ),
    min_relation_count: int = typer.Option(
        1, "--min-relation-count", min=1, help="Drop predicates with fewer distinct triples."
    ),
    min_relation_edges: int = typer.Option(
        1, "--min-relation-edges", min=1, help="Training edges each relation keeps (inductive)."
    ),
    leakage_free: bool = typer.Option(
        True,
        "--leakage-free/--allow-leakage",
        help="Take sentences supporting valid/test triples out of their entities' text.",
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same split)."),
    backend: str | None = typer.Option(None, "--backend", help="oxigraph, memory or sparql."),
) -> None:
    """Write a store's facts and entity text as a data directory for `kgforge train`.

    Prints what was built and left out (type statements, rare predicates, sentences taken out
    of entity texts) and warns when valid or test are too small to measure anything.
    """
    from kgforge.embed.data import KGData

    with _open_store(store, backend, write=False) as kg:
        data = KGData.from_graph(
            kg,
            valid_fraction=valid,
            test_fraction=test,
            seed=seed,
            inductive=inductive,
            min_relation_edges=min_relation_edges,
            keep_types=keep_types,
            min_relation_count=min_relation_count,
            leakage_free=leakage_free,
        )
    data.to_dir(output)
    typer.echo(f"{output}: {data.report.summary()}")


# ---- transfer commands (kgforge.transfer): predict-links, search ---------------------------
@app.command("predict-links")
def predict_links_command(
    model_dir: str = typer.Argument(..., help="A trained model (a `kgforge train` output)."),
    store: str = typer.Argument(..., help=_STORE_HELP),
    entity: list[str] = typer.Option(
        [],
        "--entity",
        help="Entity: ent:..., <IRI> or IRI (repeatable); default: entities new since training.",
    ),
    relation: list[str] = typer.Option(
        [],
        "--relation",
        help="Relation: rel:..., its name or IRI (repeatable); default: all the model knows.",
    ),
    k: int = typer.Option(5, "-k", min=1, help="Links per entity, across relations."),
    per_relation: bool = typer.Option(
        False, "--per-relation", help="-k links per entity, relation and direction instead."
    ),
    direction: Direction = typer.Option("both", "--direction", help="tails, heads or both."),
    min_probability: float = typer.Option(
        0.0, "--min-probability", min=0.0, max=1.0, help="Drop links less probable than this."
    ),
    calibration: Calibration = typer.Option(
        "platt", "--calibration", help="Scores to probabilities: platt, isotonic or none."
    ),
    no_type_filter: bool = typer.Option(
        False, "--no-type-filter", help="Keep links whose types never occur with the relation."
    ),
    all_unseen: bool = typer.Option(
        False, "--all-unseen", help="Target every entity the model has not seen, not only new ones."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print, do not write."),
    backend: str | None = typer.Option(None, "--backend", help="oxigraph, memory or sparql."),
) -> None:
    """Predict links for entities (by default those added since training) into graph:predicted."""
    from rdflib import URIRef

    from kgforge.embed.model import LinkPredictor
    from kgforge.graph.results import short
    from kgforge.transfer.links import predict_links, run_calibrator, training_entities

    model = LinkPredictor.load(model_dir)
    known = None if all_unseen or entity else training_entities(model_dir)
    if known is None and not entity and not all_unseen:
        typer.echo(
            "note: no record of the store at training time (store_entities.txt of the run's "
            "data): every entity the model has not seen is a target",
            err=True,
        )
    calibrator = None if calibration == "none" else run_calibrator(model_dir, model, calibration)
    with _open_store(store, backend, write=not dry_run) as kg:
        links = predict_links(
            model,
            kg,
            entities=entity or None,
            relations=relation or None,
            k=k,
            direction=direction,
            write=not dry_run,
            model_name=str(model_dir),
            known=known,
            calibrator=calibrator,
            min_probability=min_probability,
            type_filter=not no_type_filter,
            per_relation=per_relation,
        )
    typer.echo(str(links.summary))
    for link in links:
        h, r, t = (short(URIRef(x)) for x in (link.head, link.relation, link.tail))
        p = "" if link.probability is None else f"  p={link.probability:.3f}"
        typer.echo(f"{link.score:9.3f}{p}  #{link.rank}  {h} {r} {t}")
    where = "not written (--dry-run)" if dry_run else "written to graph:predicted"
    typer.echo(f"{len(links)} predicted links, {where}")


@app.command("classify")
def classify_command(
    store: str = typer.Argument(..., help=_STORE_HELP),
    model_dir: str = typer.Option(
        ..., "--model", help="A trained model (a `kgforge train` output)."
    ),
    label_property: str = typer.Option(
        "rdf:type", "--label-property", help="Property to learn and predict (IRI or prefix:name)."
    ),
    classifier: Classifier = typer.Option("logreg", "--classifier", help="logreg or mlp."),
    min_probability: float = typer.Option(
        0.0, "--min-probability", min=0.0, max=1.0, help="Drop predictions less probable than this."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print, do not write."),
    backend: str | None = typer.Option(None, "--backend", help="oxigraph, memory or sparql."),
) -> None:
    """Learn a property (rdf:type by default) from the entities that have it and predict it for
    the others into graph:predicted-types."""
    from rdflib import URIRef

    from kgforge.embed.model import LinkPredictor
    from kgforge.graph.results import short
    from kgforge.transfer.classify import classify_entities, expand_property

    prop = expand_property(label_property)
    model = LinkPredictor.load(model_dir)
    with _open_store(store, backend, write=not dry_run) as kg:
        labels = classify_entities(
            model,
            kg,
            label_property=prop,
            kind=classifier,
            min_probability=min_probability,
            write=not dry_run,
            model_name=str(model_dir),
        )
    for item in labels:
        typer.echo(
            f"{item.probability:6.3f}  {short(URIRef(item.entity))}  {short(URIRef(item.label))}"
        )
    where = "not written (--dry-run)" if dry_run else "written to graph:predicted-types"
    typer.echo(f"{len(labels)} predicted labels, {where}")


@app.command("distill")
def distill_command(
    config: str = typer.Argument(
        ..., help="Distillation config (YAML), e.g. pipelines/distill_*.yaml."
    ),
    teacher: str | None = typer.Option(
        None, "--teacher", help="Teacher model or `kgforge train` output (overrides the config)."
    ),
    data: str | None = typer.Option(None, "--data", help="Data directory (overrides the config)."),
    output: str | None = typer.Option(
        None, "--output", "-o", help="Output directory (overrides the config)."
    ),
    set_values: list[str] = typer.Option(
        [], "--set", help="Override a config field: key.path=value (repeatable)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Distil a trained link predictor's text encoder into a small fast student."""
    from kgforge.progress import set_progress
    from kgforge.transfer.distill.pipeline import distill

    if quiet:
        set_progress(False)
    result = distill(config, teacher=teacher, data=data, output=output, set_values=set_values)
    typer.echo(result.summary())


@app.command("search")
def search_command(
    store: str = typer.Argument(..., help=_STORE_HELP),
    query: str = typer.Argument(..., help="Free text, e.g. 'a scientist from Poland'."),
    k: int = typer.Option(10, "-k", min=1, help="How many entities."),
    mode: SearchMode = typer.Option("hybrid", "--mode", help="bm25, dense or hybrid (fused)."),
    model: str | None = typer.Option(
        None, "--model", help="sentence-transformers name or path (default: offline MiniLM)."
    ),
    backend: str | None = typer.Option(None, "--backend", help="oxigraph, memory or sparql."),
) -> None:
    """Find entities of a store by text: BM25 over their records, dense vectors, or both (the
    index is saved as STORE.search beside an on-disk store and rebuilt when its records change)."""
    from kgforge.graph.namespaces import shorten
    from kgforge.transfer.retrieval import EntityIndex

    index = None
    if backend in (None, "oxigraph"):  # an up-to-date saved index: the store is not opened
        index = EntityIndex.saved(store, model=model, dense=mode != "bm25")
    if index is None:
        with _open_store(store, backend, write=False) as kg:  # kept beside an on-disk store
            index = EntityIndex.for_store(kg, model=model, dense=mode != "bm25")
    for rank, hit in enumerate(index.search(query, k=k, mode=mode), start=1):
        text = hit.text if len(hit.text) <= 80 else hit.text[:77] + "..."
        typer.echo(f"{rank:3d}  {hit.score:7.3f}  {shorten(hit.entity)}  {text}")


if __name__ == "__main__":
    run()
