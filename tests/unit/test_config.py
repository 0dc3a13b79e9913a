"""One configuration: defaults, rag.toml, RAG_* variables, then command-line flags; bad values name their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import BUNDLED_MODEL, RagConfig, load_config, page_logins
from rag.errors import ConfigError


@pytest.fixture(autouse=True)
def empty_working_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No ./rag.toml is picked up by accident: each test runs in an empty folder."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def write_toml(folder: Path, body: str, name: str = "rag.toml") -> Path:
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


# --- defaults ------------------------------------------------------------------------------------------


def test_defaults_are_the_documented_ones() -> None:
    config = load_config(env={})
    assert config.corpus_dir == Path("seeds")
    assert config.index_dir == Path("index")
    assert config.model == BUNDLED_MODEL == "bundled:multilingual-e5-small"
    assert (config.chunk_size, config.chunk_overlap) == (800, 120)
    assert config.retrieval_mode == "hybrid"
    assert config.top_k == 5
    assert config.answer_mode == "extractive"
    assert (config.host, config.port) == ("127.0.0.1", 7860)
    assert config.max_question_chars == 2000
    assert config.allow_download is False
    assert config.llm.api_key_env == "OPENAI_API_KEY"


def test_without_file_env_or_flags_the_config_is_the_dataclass_default() -> None:
    assert load_config(env={}) == RagConfig()


# --- rag.toml ------------------------------------------------------------------------------------------


def test_values_of_an_explicit_toml_file_are_used(empty_working_dir: Path) -> None:
    path = write_toml(empty_working_dir, 'top_k = 7\nchunk_size = 500\nretrieval_mode = "dense"\n'
                                         '[llm]\nmodel = "qwen2.5:7b"\ntimeout_s = 60\n', name="custom.toml")
    config = load_config(path, env={})
    assert (config.top_k, config.chunk_size, config.retrieval_mode) == (7, 500, "dense")
    assert (config.llm.model, config.llm.timeout_s) == ("qwen2.5:7b", 60.0)
    assert config.llm.base_url == RagConfig().llm.base_url  # untouched keys of the table keep their default


def test_rag_toml_in_the_working_directory_is_read_without_being_named(empty_working_dir: Path) -> None:
    write_toml(empty_working_dir, "top_k = 9\n")
    assert load_config(env={}).top_k == 9


def test_rag_config_variable_names_the_file(empty_working_dir: Path) -> None:
    path = write_toml(empty_working_dir, "port = 8123\n", name="elsewhere.toml")
    assert load_config(env={"RAG_CONFIG": str(path)}).port == 8123


def test_paths_in_the_file_become_paths_with_home_expanded(empty_working_dir: Path) -> None:
    write_toml(empty_working_dir, 'index_dir = "~/rag-index"\ncorpus_dir = "releases"\n')
    config = load_config(env={})
    assert config.index_dir == Path.home() / "rag-index"
    assert config.corpus_dir == Path("releases")


def test_a_named_file_that_does_not_exist_is_an_error(empty_working_dir: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(empty_working_dir / "missing.toml", env={})


def test_a_file_that_is_not_toml_is_an_error(empty_working_dir: Path) -> None:
    path = write_toml(empty_working_dir, "top_k = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, env={})


# --- environment ---------------------------------------------------------------------------------------


def test_rag_variables_override_the_file(empty_working_dir: Path) -> None:
    write_toml(empty_working_dir, 'top_k = 7\n[llm]\nbase_url = "http://file:1/v1"\n')
    config = load_config(env={"RAG_TOP_K": "3", "RAG_LLM_BASE_URL": "http://127.0.0.1:8080/v1"})
    assert config.top_k == 3
    assert config.llm.base_url == "http://127.0.0.1:8080/v1"


def test_rag_variables_are_coerced_to_the_setting_type() -> None:
    config = load_config(env={"RAG_ALLOW_DOWNLOAD": "true", "RAG_LLM_TIMEOUT_S": "12.5", "RAG_INDEX_DIR": "/tmp/ix",
                              "RAG_PASSAGE_CONTEXT": "off"})
    assert config.allow_download is True
    assert config.llm.timeout_s == 12.5
    assert config.index_dir == Path("/tmp/ix")
    assert config.passage_context is False


def test_variables_without_the_rag_prefix_are_ignored() -> None:
    assert load_config(env={"TOP_K": "3", "LLM_MODEL": "x", "rag_top_k": "3"}) == RagConfig()


@pytest.mark.parametrize(("variable", "meant"), [
    ("RAG_TOPK", "RAG_TOP_K"), ("RAG_LLM_TIMEOUT", "RAG_LLM_TIMEOUT_S"), ("RAG_INDEXDIR", "RAG_INDEX_DIR"),
    ("RAG_LLM_MODLE", "RAG_LLM_MODEL"),
])
def test_a_misspelled_rag_variable_is_an_error_that_names_the_setting_it_resembles(variable: str,
                                                                                    meant: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown variable {variable} \\(did you mean {meant}\\?\\)"):
        load_config(env={variable: "3"})


def test_a_rag_variable_like_no_setting_is_an_error_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown variable RAG_ZZZZZZZZZZ .*RAG_TOP_K"):
        load_config(env={"RAG_ZZZZZZZZZZ": "x"})


def test_variables_of_the_test_suite_and_the_config_file_name_are_not_settings() -> None:
    assert load_config(env={"RAG_SCREENSHOTS": "1", "RAG_MODEL_DIR": "/tmp/model"}) == RagConfig()


def test_explicit_empty_environment_ignores_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, empty_working_dir: Path
) -> None:
    monkeypatch.setenv("RAG_TOP_K", "3")
    monkeypatch.setenv("RAG_LLM_BASE_URL", "http://from-the-shell/v1")
    monkeypatch.setenv("RAG_CONFIG", str(write_toml(empty_working_dir, "port = 1\n", name="shell.toml")))
    assert load_config(env={}) == RagConfig()


def test_without_an_env_argument_the_process_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOP_K", "3")
    assert load_config().top_k == 3


# --- command line --------------------------------------------------------------------------------------


def test_command_line_overrides_win_over_file_and_environment(empty_working_dir: Path) -> None:
    write_toml(empty_working_dir, "top_k = 7\n")
    config = load_config(env={"RAG_TOP_K": "3"}, top_k=4, index_dir=Path("/tmp/cli-index"))
    assert config.top_k == 4
    assert config.index_dir == Path("/tmp/cli-index")


def test_a_flag_left_unset_keeps_the_lower_layer() -> None:
    assert load_config(env={"RAG_TOP_K": "3"}, top_k=None).top_k == 3


def test_with_overrides_returns_a_new_config_and_keeps_the_old_one() -> None:
    base = load_config(env={})
    changed = base.with_overrides(top_k="8")
    assert changed.top_k == 8 and base.top_k == 5


# --- errors name the key -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('top_k = "many"\n', "top_k"),
        ("top_k = [1, 2]\n", "top_k"),
        ('port = "http"\n', "port"),
        ('[llm]\ntimeout_s = "soon"\n', "timeout_s"),
        ('llm = "http://127.0.0.1:8080/v1"\n', "llm"),
    ],
)
def test_a_value_of_the_wrong_type_in_the_file_names_its_key(empty_working_dir: Path, body: str, key: str) -> None:
    path = write_toml(empty_working_dir, body)
    with pytest.raises(ConfigError, match=f"'{key}'"):
        load_config(path, env={})


@pytest.mark.parametrize(("variable", "value", "key"), [
    ("RAG_TOP_K", "three", "top_k"),
    ("RAG_ALLOW_DOWNLOAD", "maybe", "allow_download"),
    ("RAG_LLM_MAX_TOKENS", "lots", "max_tokens"),
])
def test_a_malformed_variable_names_its_key(variable: str, value: str, key: str) -> None:
    with pytest.raises(ConfigError, match=f"'{key}'") as raised:
        load_config(env={variable: value})
    assert "environment" in str(raised.value)


def test_a_boolean_is_not_accepted_as_a_number(empty_working_dir: Path) -> None:
    path = write_toml(empty_working_dir, "top_k = true\n")
    with pytest.raises(ConfigError, match="'top_k'"):
        load_config(path, env={})


def test_a_fraction_is_not_silently_truncated_to_an_integer(empty_working_dir: Path) -> None:
    path = write_toml(empty_working_dir, "top_k = 2.5\n")
    with pytest.raises(ConfigError, match="'top_k'"):
        load_config(path, env={})


@pytest.mark.parametrize("body", ['colour = "blue"\n', '[llm]\ncolour = "blue"\n'])
def test_an_unknown_key_is_named(empty_working_dir: Path, body: str) -> None:
    path = write_toml(empty_working_dir, body)
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_config(path, env={})


def test_an_unknown_command_line_override_is_named() -> None:
    with pytest.raises(ConfigError, match="'colour'"):
        load_config(env={}, colour="blue")


@pytest.mark.parametrize(
    ("key", "value"),
    [("retrieval_mode", "fuzzy"), ("answer_mode", "poem"), ("precision", "fp8"), ("index_kind", "tree"),
     ("embed_backend", "tpu"), ("vector_store", "postgres")],
)
def test_a_value_outside_the_choices_names_its_key_and_the_choices(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"'{key}' must be one of") as raised:
        load_config(env={f"RAG_{key.upper()}": value})
    assert value in str(raised.value)


@pytest.mark.parametrize(("size", "overlap"), [(200, 200), (200, 250), (800, -1)])
def test_overlap_not_below_the_chunk_size_is_refused(empty_working_dir: Path, size: int, overlap: int) -> None:
    path = write_toml(empty_working_dir, f"chunk_size = {size}\nchunk_overlap = {overlap}\n")
    with pytest.raises(ConfigError, match="chunk_overlap"):
        load_config(path, env={})


def test_overlap_just_below_the_chunk_size_is_accepted(empty_working_dir: Path) -> None:
    path = write_toml(empty_working_dir, "chunk_size = 200\nchunk_overlap = 199\n")
    assert load_config(path, env={}).chunk_overlap == 199


def test_a_tiny_chunk_size_is_refused() -> None:
    with pytest.raises(ConfigError, match="chunk_size"):
        load_config(env={"RAG_CHUNK_SIZE": "50", "RAG_CHUNK_OVERLAP": "0"})


def test_top_k_above_the_candidate_pool_is_refused() -> None:
    with pytest.raises(ConfigError, match="top_k"):
        load_config(env={"RAG_TOP_K": "40", "RAG_CANDIDATE_POOL": "30"})


def test_an_error_in_the_file_names_the_file(empty_working_dir: Path) -> None:
    path = write_toml(empty_working_dir, 'retrieval_mode = "fuzzy"\n', name="mine.toml")
    with pytest.raises(ConfigError, match="mine.toml"):
        load_config(path, env={})


# --- ranges --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("variable", "value", "key"), [
    ("RAG_EMBED_BATCH_SIZE", "0", "embed_batch_size"),
    ("RAG_RRF_K", "-1", "rrf_k"),
    ("RAG_RRF_K", "0", "rrf_k"),
    ("RAG_LLM_TIMEOUT_S", "inf", "timeout_s"),
    ("RAG_LLM_TIMEOUT_S", "nan", "timeout_s"),
    ("RAG_LLM_TIMEOUT_S", "0", "timeout_s"),
    ("RAG_LLM_TIMEOUT_S", "-5", "timeout_s"),
    ("RAG_MAX_QUESTION_CHARS", "0", "max_question_chars"),
    ("RAG_PORT", "0", "port"),
    ("RAG_PORT", "99999", "port"),
    ("RAG_CONCURRENCY_LIMIT", "0", "concurrency_limit"),
    ("RAG_MAX_ANSWER_SENTENCES", "0", "max_answer_sentences"),
    ("RAG_SENTENCE_WEIGHT", "1.5", "sentence_weight"),
    ("RAG_SENTENCE_WEIGHT", "nan", "sentence_weight"),
    ("RAG_SENTENCE_WINDOW", "-1", "sentence_window"),
    ("RAG_CANDIDATE_POOL", "0", "candidate_pool"),
    ("RAG_TOP_K", "0", "top_k"),
    ("RAG_LLM_MAX_TOKENS", "0", "max_tokens"),
    ("RAG_LLM_TEMPERATURE", "-0.1", "temperature"),
    ("RAG_LLM_TEMPERATURE", "inf", "temperature"),
])
def test_a_number_outside_its_range_is_refused_naming_the_key_and_the_range(variable: str, value: str,
                                                                            key: str) -> None:
    with pytest.raises(ConfigError, match=f"'{key}' must be (a finite number )?(at least|greater than|between) ") as raised:
        load_config(env={variable: value})
    assert repr(value) in str(raised.value)


@pytest.mark.parametrize("body", ["embed_batch_size = 0\n", "rrf_k = -1\n", "max_question_chars = 0\n",
                                  "[llm]\ntimeout_s = inf\n", "[llm]\ntimeout_s = nan\n"])
def test_a_number_outside_its_range_in_the_file_is_refused(empty_working_dir: Path, body: str) -> None:
    with pytest.raises(ConfigError, match="must be"):
        load_config(write_toml(empty_working_dir, body), env={})


@pytest.mark.parametrize(("variable", "value"), [
    ("RAG_EMBED_BATCH_SIZE", "1"), ("RAG_RRF_K", "1"), ("RAG_LLM_TIMEOUT_S", "0.5"), ("RAG_MAX_QUESTION_CHARS", "1"),
    ("RAG_PORT", "65535"), ("RAG_SENTENCE_WEIGHT", "1"), ("RAG_LLM_TEMPERATURE", "0"), ("RAG_SENTENCE_WINDOW", "0"),
])
def test_the_edge_of_each_range_is_accepted(variable: str, value: str) -> None:
    load_config(env={variable: value})


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_a_timeout_that_is_not_finite_is_told_so(value: str) -> None:
    with pytest.raises(ConfigError, match=f"'timeout_s' must be a finite number greater than 0, got '{value}'"):
        load_config(env={"RAG_LLM_TIMEOUT_S": value})


def test_an_integer_setting_given_infinity_says_it_must_be_an_integer() -> None:
    with pytest.raises(ConfigError, match="'top_k' must be an integer, got 'inf'"):
        load_config(env={"RAG_TOP_K": "inf"})


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("RAG_TOP_K", "many", "'top_k' must be an integer"),
    ("RAG_LLM_TIMEOUT_S", "soon", "'timeout_s' must be a number"),
    ("RAG_ALLOW_DOWNLOAD", "maybe", "'allow_download' must be true or false"),
])
def test_a_malformed_value_is_named_by_the_kind_of_value_it_must_be(variable: str, value: str,
                                                                    expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(env={variable: value})


def test_an_unknown_key_of_the_file_suggests_the_close_one(empty_working_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting 'topk' \\(did you mean 'top_k'\\?\\)"):
        load_config(write_toml(empty_working_dir, "topk = 3\n"), env={})


# --- logins of the chat page -----------------------------------------------------------------------------


def test_rag_auth_and_a_login_file_give_the_page_its_logins(empty_working_dir: Path) -> None:
    logins = write_toml(empty_working_dir, "# the team\nalice:s3cret:with:colons\n\n bob : pw \n", name="logins")
    config = load_config(env={"RAG_AUTH": "carol:pw2", "RAG_AUTH_FILE": str(logins)})
    assert page_logins(config) == (("carol", "pw2"), ("alice", "s3cret:with:colons"), ("bob", " pw"))


def test_without_auth_the_page_has_no_login() -> None:
    assert page_logins(load_config(env={})) == ()


@pytest.mark.parametrize("entry", ["alice", "alice:", ":pw", " :pw"])
def test_a_login_that_is_not_user_colon_password_is_refused_without_echoing_it(entry: str) -> None:
    with pytest.raises(ConfigError, match="user:password") as raised:
        page_logins(load_config(env={}, auth=entry))
    assert "pw" not in str(raised.value) and "alice" not in str(raised.value)


def test_a_missing_or_empty_login_file_is_refused(empty_working_dir: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the login file"):
        page_logins(load_config(env={}, auth_file=str(empty_working_dir / "none")))
    empty = write_toml(empty_working_dir, "# nobody yet\n", name="logins")
    with pytest.raises(ConfigError, match="no user:password line"):
        page_logins(load_config(env={}, auth_file=str(empty)))


def test_the_password_is_not_in_the_config_repr() -> None:
    assert "hunter2" not in repr(load_config(env={"RAG_AUTH": "alice:hunter2"}))
