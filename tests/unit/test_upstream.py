"""The whole API at the request level (no network): ``extra`` and the first-class upstream
options, their placement, callback URLs, ``auto`` from the first reference, model ids the
catalog does not know, and the limits only upstream states."""

from __future__ import annotations

import base64
import io
import os
import warnings
from typing import Any

import pytest
from PIL import Image

from seedream_jupyter import _formats, api, catalog, upstream
from seedream_jupyter.errors import ValidationError
from seedream_jupyter.request import GenerationRequest, LimitWarning, UnknownModelWarning
from seedream_jupyter.session import session

LITE, V45, V40 = "doubao-seedream-5.0-lite", "doubao-seedream-4.5", "doubao-seedream-4.0"
NEW_ID = "doubao-seedream-5.0-pro"
URL = "https://example.com/ref.png"


def data_uri(size: tuple[int, int], fmt: str = "PNG", **save: Any) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 150)).save(buffer, fmt, **save)
    mime = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[fmt]
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def make(**kw: Any) -> GenerationRequest:
    kw.setdefault("prompt", "a red fox")
    return GenerationRequest(**kw)


def rejected(field: str, **kw: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        make(**kw)
    assert info.value.field == field, info.value
    return info.value


# -- extra and the first-class options ---------------------------------------------------------


def test_extra_is_merged_into_the_body_top_level_by_default() -> None:
    req = make(extra={"stream": False, "response_format": "url", "guidance": {"a": [1, 2]}})
    body = req.to_payload()
    assert body["stream"] is False and body["response_format"] == "url"
    assert body["guidance"] == {"a": [1, 2]} and "extra" not in body


def test_extra_placement_puts_every_upstream_option_in_one_object() -> None:
    req = make(
        model="4.0", optimize_prompt="fast", extra={"stream": False}, upstream_placement="extra"
    )
    body = req.to_payload()
    assert body["extra"] == {"optimize_prompt_options": {"mode": "fast"}, "stream": False}
    assert "optimize_prompt_options" not in body and "stream" not in body


def test_first_class_options_on_the_wire() -> None:
    body = make(model="5.0-lite", optimize_prompt="standard", web_search=True).to_payload()
    assert body["optimize_prompt_options"] == {"mode": "standard"}
    assert body["tools"] == [{"type": "web_search"}]
    assert "tools" not in make(model="5.0-lite").to_payload()
    assert make(optimize_prompt=True).optimize_prompt == "standard"
    assert make(optimize_prompt=" FAST ", model="4.0").optimize_prompt == "fast"
    assert make(optimize_prompt=False).optimize_prompt is None


@pytest.mark.parametrize("key", sorted(catalog.VALIDATED_BODY_KEYS))
def test_extra_never_overrides_a_validated_field(key: str) -> None:
    err = rejected(f"extra[{key!r}]", extra={key: 1})
    assert catalog.VALIDATED_BODY_KEYS[key] in err.allowed  # names the parameter to use


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["stream"], "extra"),
        ({"": 1}, "extra"),
        ({3: 1}, "extra"),
        ({"x": object()}, "extra"),
        ({"x": float("nan")}, "extra"),
        ({"stream": "yes"}, "extra['stream']"),
        ({"stream": 1}, "extra['stream']"),
        ({"response_format": "png"}, "extra['response_format']"),
    ],
)
def test_bad_extra_is_refused(extra: Any, field: str) -> None:
    rejected(field, extra=extra)


def test_extra_is_a_detached_copy_and_empty_means_none() -> None:
    given = {"nested": {"x": 1}}
    req = make(extra=given)
    given["nested"]["x"] = 2
    assert req.to_payload()["nested"] == {"x": 1}
    assert make(extra={}).extra is None


@pytest.mark.parametrize(
    ("kw", "field", "says"),
    [
        ({"model": "4.5", "web_search": True}, "web_search", LITE),
        ({"model": "4.0", "web_search": True}, "web_search", LITE),
        ({"model": "4.5", "optimize_prompt": "fast"}, "optimize_prompt", V40),
        ({"model": "5.0-lite", "optimize_prompt": "fast"}, "optimize_prompt", V40),
        ({"optimize_prompt": "turbo"}, "optimize_prompt", "standard, fast"),
        ({"web_search": "yes"}, "web_search", "True or False"),
        ({"upstream_placement": "body"}, "upstream_placement", "top-level, extra"),
    ],
)
def test_options_are_checked_against_the_model(kw: dict[str, Any], field: str, says: str) -> None:
    assert says in rejected(field, **kw).allowed


def test_every_model_says_which_options_it_takes() -> None:
    for spec in catalog.MODELS.values():
        assert set(spec.upstream_options) <= set(catalog.UPSTREAM_OPTIONS)
        assert set(spec.prompt_modes) <= set(catalog.PROMPT_MODES)
    assert [s.id for s in catalog.MODELS.values() if s.takes("web_search")] == [LITE]
    assert [s.id for s in catalog.MODELS.values() if "fast" in s.prompt_modes] == [V40]


def test_the_cache_key_ignores_the_placement_but_not_the_options() -> None:
    top = make(seed=7, extra={"stream": False})
    inside = make(seed=7, extra={"stream": False}, upstream_placement="extra")
    assert top.cache_key() == inside.cache_key()
    assert top.cache_key() != make(seed=7).cache_key()
    assert make(seed=7).cache_key() == make(seed=7, extra={}).cache_key()


@pytest.mark.parametrize("placement", catalog.UPSTREAM_PLACEMENTS)
def test_a_stored_payload_rebuilds_the_options(placement: str) -> None:
    req = make(
        model="5.0-lite",
        optimize_prompt="standard",
        web_search=True,
        extra={"stream": False},
        upstream_placement=placement,
    )
    again = GenerationRequest.from_payload(req.to_payload())
    assert again == req and again.to_payload() == req.to_payload()


# -- callbacks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["https://example.com/hook", "http://127.0.0.1:8080/cb?x=1", "HTTPS://EXAMPLE.COM/cb"]
)
def test_callback_urls_with_a_host_pass(url: str) -> None:
    assert upstream.check_callback_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://",
        "https:///path",
        "ftp://example.com/x",
        "example.com/hook",
        "https://exa mple.com/",
        "https://example.com:99999/",
        "",
        7,
    ],
)
def test_callback_urls_without_http_or_a_host_are_refused(url: object) -> None:
    with pytest.raises(ValidationError) as info:
        upstream.check_callback_url(url)
    assert info.value.field == "callback_url" and "with a host" in info.value.allowed


def test_a_request_with_a_hostless_callback_is_refused() -> None:
    rejected("callback_url", callback_url="http://")
    assert make(callback_url="https://example.com/h").to_payload()["callback_url"]


# -- auto ----------------------------------------------------------------------------------------


def test_auto_without_a_reference_is_refused_with_what_to_do() -> None:
    err = rejected("aspect_ratio", aspect_ratio="auto")
    assert (
        err.allowed == "`auto` follows the first reference image; pass `images=` or choose a ratio"
    )


@pytest.mark.parametrize(
    ("fmt", "save"), [("PNG", {}), ("JPEG", {}), ("JPEG", {"progressive": True}), ("WEBP", {})]
)
def test_auto_follows_the_first_reference(fmt: str, save: dict[str, Any]) -> None:
    portrait, landscape = data_uri((720, 1280), fmt, **save), data_uri((1600, 900))
    req = make(action="image2image", aspect_ratio="auto", image_urls=[portrait, landscape])
    assert req.resolved_aspect_ratio == "9:16" and req.ratio_label == "auto → 9:16"
    assert req.pixel_size == catalog.MODELS[V45].pixel_size("2K", "9:16") == (1440, 2560)


def test_auto_maps_to_the_models_nearest_ratio_as_the_simulator_does() -> None:
    tall = data_uri((300, 700))  # 3:7 is nearest 9:21 on 4.x, 9:16 on 5.0-lite (no 9:21)
    on_45 = make(action="image2image", aspect_ratio="auto", image_urls=[tall])
    on_lite = make(model="5.0-lite", action="image2image", aspect_ratio="auto", image_urls=[tall])
    assert (on_45.resolved_aspect_ratio, on_lite.resolved_aspect_ratio) == ("9:21", "9:16")
    assert on_lite.resolved_aspect_ratio == catalog.nearest_ratio(
        300, 700, catalog.MODELS[LITE].aspect_ratios
    )


def test_auto_with_a_url_reference_says_its_size_is_unknown() -> None:
    req = make(action="image2image", aspect_ratio="auto", image_urls=[URL])
    assert req.resolved_aspect_ratio is None
    assert req.ratio_label == "auto (follows the reference)"
    assert req.pixel_size == (2048, 2048)  # the estimate's fallback


def test_formats_read_sizes_from_the_header_only() -> None:
    big_icc = io.BytesIO()
    Image.new("RGB", (640, 480)).save(big_icc, "JPEG", icc_profile=b"x" * 70000)
    assert _formats.dimensions(big_icc.getvalue()) == (640, 480)
    assert upstream.data_uri_size(
        "data:image/jpeg;base64," + base64.b64encode(big_icc.getvalue()).decode()
    ) == (640, 480)
    for size in ((1, 1), (16383, 3)):
        for fmt in ("PNG", "WEBP"):
            raw = base64.b64decode(data_uri(size, fmt).split(",", 1)[1])
            assert _formats.dimensions(raw) == size
    lossless = io.BytesIO()
    Image.new("RGBA", (33, 17)).save(lossless, "WEBP", lossless=True)
    assert _formats.dimensions(lossless.getvalue()) == (33, 17)
    assert _formats.dimensions(b"GIF89a....") is None
    assert _formats.dimensions(b"\xff\xd8\xff\xe0\x00") is None  # cut short


# -- model ids the catalog does not know ----------------------------------------------------------


def test_an_unknown_id_is_refused_with_the_known_ids_and_the_way_to_send_it() -> None:
    err = rejected("model", model=NEW_ID)
    for model_id in catalog.MODEL_IDS:
        assert model_id in err.allowed
    assert "strict=False" in err.allowed and "strict_models = False" in err.allowed
    assert "did you mean" not in err.allowed  # a new id is not a typo of 4.0
    assert "did you mean" in rejected("model", model="doubao-seedrem-4.5").allowed


def test_an_unknown_id_with_strict_false_gets_generic_rules_and_no_price() -> None:
    req = make(model=NEW_ID, strict=False, resolution="3K", aspect_ratio="21:9")
    assert req.model == NEW_ID and not req.spec.known and not req.price_known
    assert req.cost_text() == "price unknown" and req.estimate_cost() == 0.0
    assert req.pixel_size == catalog.MODELS[LITE].pixel_size("3K", "21:9")
    assert req.to_payload()["model"] == NEW_ID
    (warning,) = req.warnings()
    assert isinstance(warning, UnknownModelWarning) and "price is unknown" in str(warning)
    assert make(model=NEW_ID, strict=False, web_search=True).web_search  # no model rule
    rejected("images", model=NEW_ID, strict=False, image_urls=[URL] * 15)  # generic: 14


def test_a_price_prices_an_unknown_id_and_is_refused_for_a_known_one() -> None:
    req = make(model=NEW_ID, strict=False, price_per_image_usd=0.04, n=3)
    assert req.price_known and req.estimate_cost() == pytest.approx(0.12)
    assert req.cost_text() == "≈ $0.1200"
    assert "0.04 per image" in str(req.warnings()[0])
    assert (
        "prices doubao-seedream-4.5 itself"
        in rejected("price_per_image_usd", price_per_image_usd=0.01).allowed
    )
    for bad in (-1, float("inf"), "0.04", True):
        rejected("price_per_image_usd", model=NEW_ID, strict=False, price_per_image_usd=bad)


@pytest.mark.parametrize("model", ["Doubao Seedream 5", "../admin", "x" * 101])
def test_unknown_ids_must_look_like_ids(model: str) -> None:
    rejected("model", model=model, strict=False)


def test_strict_must_be_a_bool() -> None:
    rejected("strict", strict="no")


def test_history_rebuilds_an_unknown_id_without_strict() -> None:
    sent = make(model=NEW_ID, strict=False).to_payload()
    again = GenerationRequest.from_payload(sent)
    assert again.model == NEW_ID and not again.strict


# -- limits only upstream states ------------------------------------------------------------------


def test_inferred_limits_are_marked_in_the_catalog() -> None:
    inferred = {name for name, limit in catalog.LIMITS.items() if limit.inferred}
    assert inferred == {"n", "reference_min_4.5"}
    warned = {name for name, limit in catalog.LIMITS.items() if not limit.refused}
    assert warned == {
        "upstream_input_bytes",
        "upstream_input_side",
        "upstream_input_aspect",
        "upstream_refs_plus_outputs",
    }
    assert all("upstream" in catalog.LIMITS[name].source for name in warned)


def test_large_or_extreme_inputs_are_warned_about_and_still_sent() -> None:
    wide = data_uri((1700, 100))  # 17:1
    huge = data_uri((6100, 64))
    req = make(action="image2image", image_urls=[wide, huge])
    texts = [str(w) for w in req.warnings()]
    assert all(isinstance(w, LimitWarning) for w in req.warnings())
    assert any("images[0]" in t and "1:16 to 16:1" in t for t in texts)
    assert any("images[1]" in t and "6000×6000" in t for t in texts)
    assert all("upstream" in t and "sent anyway" in t for t in texts)
    assert req.to_payload()["image_urls"] == [wide, huge]
    assert make(action="image2image", image_urls=[data_uri((640, 480))]).warnings() == []


def test_inputs_over_10_mb_are_warned_about() -> None:
    noise = Image.frombytes("RGB", (1900, 1900), os.urandom(1900 * 1900 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "PNG", compress_level=0)
    assert buffer.tell() > catalog.UPSTREAM_MAX_INPUT_BYTES
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    (warning,) = make(action="image2image", image_urls=[uri]).warnings()
    assert "up to 10 MB" in str(warning) and "30 MB" in str(warning)


def test_references_plus_outputs_over_15_warn_where_the_seed_does_not_refuse() -> None:
    refs = [URL] * 14
    (warning,) = make(action="image2image", image_urls=refs, n=2).warnings()
    assert "14 reference images + 2 outputs = 16" in str(warning)
    assert make(action="image2image", image_urls=refs, n=1).warnings() == []
    rejected("images", model="4.0", action="image2image", image_urls=[URL] * 10, n=6)  # refused


# -- build_request: session settings and warnings ------------------------------------------------


def test_build_request_takes_strictness_placement_and_price_from_the_session() -> None:
    with pytest.raises(ValidationError):
        api.build_request("x", model=NEW_ID)
    session().configure(strict_models=False, upstream_placement="extra", price_per_image_usd=0.05)
    with pytest.warns(UnknownModelWarning, match="0.05 per image"):
        req = api.build_request("x", model=NEW_ID, extra={"stream": False})
    assert req.to_payload()["extra"] == {"stream": False} and req.estimate_cost() == 0.05
    known = api.build_request("x", model="4.5")  # the session price is only for unknown ids
    assert known.price_per_image_usd is None and known.estimate_cost() == 0.02975
    with pytest.raises(ValidationError):
        api.build_request("x", model=NEW_ID, strict=True)  # an argument beats the session


def test_warn_false_keeps_build_request_quiet() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        req = api.build_request("x", model=NEW_ID, strict=False, warn=False)
    assert len(req.warnings()) == 1


def test_wait_is_checked_before_anything_is_sent() -> None:
    assert api.build.resolve_wait("sync") == "sync"
    assert api.build.resolve_wait(api.UNSET) == "poll"
    session().configure(wait="sync")
    assert api.build.resolve_wait(api.UNSET) == "sync"
    with pytest.raises(ValidationError, match="POST /v1/tasks/sync"):
        api.build.resolve_wait("fast")
