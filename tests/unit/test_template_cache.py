"""Compiled templates kept between runs: the same bytes with or without them, and only from a private folder."""

from tests.support.common import run_gen

from generator.template_cache import bytecode_cache


def render(tmp_path, cache_home) -> str:
    env = {"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path / "secrets"), "XDG_CACHE_HOME": str(cache_home)}
    result = run_gen("ks", "profiles/master.yaml", env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def cache_entries(cache_home) -> list:
    return sorted(cache_home.rglob("*.cache"))


def test_cached_templates_render_the_same_bytes(tmp_path):
    cache = tmp_path / "cache"
    first = render(tmp_path, cache)  # compiles, and fills the cache
    entries = cache_entries(cache)
    assert [e.name.split("-")[0] for e in entries].count("text") == 2  # the unit and the Kickstart
    assert all(e.stat().st_mode & 0o077 == 0 for e in entries)
    assert render(tmp_path, cache) == first  # from the cache
    for entry in entries:  # damaged entries are compiled again, not trusted and not an error
        entry.write_bytes(entry.read_bytes()[:20])
    assert render(tmp_path, cache) == first
    assert all(e.stat().st_size > 20 for e in cache_entries(cache))


def test_a_cache_folder_others_can_change_is_not_used(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # writable by all and not sticky: anyone could swap in code of their own
    assert render(tmp_path, shared) == render(tmp_path, tmp_path / "cache")
    assert cache_entries(shared) == []


def test_a_change_to_the_environments_settings_starts_a_new_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    settings = tmp_path / "render.py"
    settings.write_text("finalize=None\n")
    before = bytecode_cache(settings, "text").directory
    settings.write_text("finalize=_shell_value\n")
    assert bytecode_cache(settings, "text").directory != before
