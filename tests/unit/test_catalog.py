"""The model catalog: ids, aliases, per-model facts and pixel sizes, exactly as the issue states."""

from __future__ import annotations

import pytest

from seedream_jupyter import catalog
from seedream_jupyter.catalog import MODELS, find_model, models_supporting, nearest_ratio

LITE, V45, V40 = "doubao-seedream-5.0-lite", "doubao-seedream-4.5", "doubao-seedream-4.0"
ALL_ACTIONS = ("generate", "image2image", "edit", "reference", "group")
COMMON_RATIOS = {"1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3", "21:9", "auto"}
LANDSCAPE = ("1:1", "4:3", "16:9", "3:2", "21:9")
PORTRAIT_OF = {"3:4": "4:3", "9:16": "16:9", "2:3": "3:2", "9:21": "21:9"}

# The table, landscape ratios in LANDSCAPE order.
SIZES_1K = ((1024, 1024), (1152, 864), (1280, 720), (1248, 832), (1512, 648))
SIZES_2K = ((2048, 2048), (2304, 1728), (2560, 1440), (2496, 1664), (3024, 1296))
SIZES_2K_LITE = ((2048, 2048), (2304, 1728), (2848, 1600), (2496, 1664), (3136, 1344))
SIZES_3K = ((3072, 3072), (3456, 2592), (4096, 2304), (3744, 2496), (4704, 2016))
EXPECTED_SIZES = {
    (V40, "1K"): SIZES_1K,
    (V40, "2K"): SIZES_2K,
    (V45, "2K"): SIZES_2K,
    (LITE, "2K"): SIZES_2K_LITE,
    (LITE, "3K"): SIZES_3K,
}


def test_exact_model_ids() -> None:
    assert set(MODELS) == {LITE, V45, V40}
    assert tuple(MODELS) == catalog.MODEL_IDS
    for model_id, spec in MODELS.items():
        assert spec.id == model_id


@pytest.mark.parametrize(
    ("alias", "model_id"),
    [
        ("5.0-lite", LITE),
        ("5.0", LITE),
        ("seedream-5.0", LITE),
        ("4.5", V45),
        ("seedream-4.5", V45),
        ("4.0", V40),
        ("seedream-4.0", V40),
        (LITE, LITE),
        (V45, V45),
        (V40, V40),
        ("  4.5  ", V45),
        ("DOUBAO-SEEDREAM-4.5", V45),
        ("Seedream-4.0", V40),
    ],
)
def test_every_alias_resolves(alias: str, model_id: str) -> None:
    spec = find_model(alias)
    assert spec is not None
    assert spec.id == model_id


def test_alias_table_points_at_real_models() -> None:
    for alias in ("5.0-lite", "5.0", "4.5", "4.0", "seedream-5.0", "seedream-4.5", "seedream-4.0"):
        assert alias in catalog.ALIASES
    assert set(catalog.ALIASES.values()) <= set(MODELS)


@pytest.mark.parametrize("name", ["", "dall-e-3", "seedream-3.0", "doubao-seedream-9"])
def test_unknown_names_do_not_resolve(name: str) -> None:
    assert find_model(name) is None


@pytest.mark.parametrize(
    ("model_id", "actions"),
    [(LITE, ("generate", "image2image", "group")), (V45, ALL_ACTIONS), (V40, ALL_ACTIONS)],
)
def test_actions(model_id: str, actions: tuple[str, ...]) -> None:
    spec = MODELS[model_id]
    assert set(spec.actions) == set(actions)
    for action in ALL_ACTIONS:
        assert spec.supports(action) is (action in actions)


def test_models_supporting() -> None:
    assert set(models_supporting("edit")) == {V45, V40}
    assert set(models_supporting("reference")) == {V45, V40}
    assert set(models_supporting("group")) == {LITE, V45, V40}
    assert models_supporting("paint") == ()


@pytest.mark.parametrize(
    ("model_id", "resolutions"),
    [(LITE, ("2K", "3K")), (V45, ("2K", "4K")), (V40, ("1K", "2K", "4K"))],
)
def test_resolutions(model_id: str, resolutions: tuple[str, ...]) -> None:
    assert tuple(MODELS[model_id].resolutions) == resolutions


@pytest.mark.parametrize(
    ("model_id", "ratios"),
    [(LITE, COMMON_RATIOS), (V45, COMMON_RATIOS | {"9:21"}), (V40, COMMON_RATIOS | {"9:21"})],
)
def test_aspect_ratios(model_id: str, ratios: set[str]) -> None:
    assert set(MODELS[model_id].aspect_ratios) == ratios
    assert len(MODELS[model_id].aspect_ratios) == len(ratios)  # no duplicates


@pytest.mark.parametrize(
    ("model_id", "formats"), [(LITE, ("jpeg", "png")), (V45, ("jpeg",)), (V40, ("jpeg",))]
)
def test_output_formats(model_id: str, formats: tuple[str, ...]) -> None:
    assert tuple(MODELS[model_id].output_formats) == formats


@pytest.mark.parametrize(("model_id", "price"), [(LITE, 0.02975), (V45, 0.02975), (V40, 0.0238)])
def test_prices(model_id: str, price: float) -> None:
    assert MODELS[model_id].price_per_image_usd == price


@pytest.mark.parametrize(
    ("model_id", "max_refs", "fusion", "refs_plus_outputs"),
    [(LITE, 14, (2, 14), None), (V45, 14, (2, 14), None), (V40, 10, (2, 10), 15)],
)
def test_reference_limits(
    model_id: str, max_refs: int, fusion: tuple[int, int], refs_plus_outputs: int | None
) -> None:
    spec = MODELS[model_id]
    assert spec.max_reference_images == max_refs
    assert (spec.min_reference_images_for_fusion, spec.max_reference_images_for_fusion) == fusion
    assert spec.max_refs_plus_outputs == refs_plus_outputs


def test_global_limits() -> None:
    assert (catalog.MIN_IMAGES, catalog.MAX_IMAGES) == (1, 15)
    assert (catalog.MIN_SEED, catalog.MAX_SEED) == (-1, 2_147_483_647)
    assert catalog.MAX_INPUT_IMAGE_BYTES == 30 * 1024 * 1024
    assert set(catalog.INPUT_IMAGE_FORMATS) == {"jpeg", "png", "webp"}
    assert catalog.DEFAULT_MODEL == V45
    assert catalog.DEFAULT_WATERMARK is False
    assert catalog.DEFAULT_ACTION == "generate"
    assert catalog.DEFAULT_RESOLUTION == "2K"
    assert catalog.DEFAULT_ASPECT_RATIO == "1:1"
    assert catalog.RESULT_URL_TTL_SECONDS == 24 * 3600
    assert catalog.DEFAULT_BASE_URL == "https://www.qingbo.dev"


def test_every_model_has_sizes_for_exactly_its_resolutions_and_ratios() -> None:
    for spec in MODELS.values():
        assert set(spec.pixel_sizes) == set(spec.resolutions)
        fixed = {r for r in catalog.ASPECT_RATIOS if r != "auto"}
        for table in spec.pixel_sizes.values():
            assert set(table) == fixed  # 9:21 sizes exist even where the ratio is not offered


@pytest.mark.parametrize(
    ("model_id", "resolution", "ratio", "size"),
    [
        (model_id, resolution, ratio, size)
        for (model_id, resolution), sizes in EXPECTED_SIZES.items()
        for ratio, size in zip(LANDSCAPE, sizes)
    ],
)
def test_landscape_pixel_sizes(
    model_id: str, resolution: str, ratio: str, size: tuple[int, int]
) -> None:
    assert MODELS[model_id].pixel_size(resolution, ratio) == size


@pytest.mark.parametrize(
    ("model_id", "resolution"),
    [(m, r) for m in MODELS for r in MODELS[m].resolutions],
)
@pytest.mark.parametrize(("portrait", "landscape"), sorted(PORTRAIT_OF.items()))
def test_portrait_is_the_transpose(
    model_id: str, resolution: str, portrait: str, landscape: str
) -> None:
    spec = MODELS[model_id]
    w, h = spec.pixel_size(resolution, landscape)
    assert spec.pixel_size(resolution, portrait) == (h, w)
    assert w >= h


@pytest.mark.parametrize("model_id", [V45, V40])
@pytest.mark.parametrize("ratio", sorted(set(catalog.ASPECT_RATIOS) - {"auto"}))
def test_4k_keeps_about_16_7_megapixels(model_id: str, ratio: str) -> None:
    w, h = MODELS[model_id].pixel_size("4K", ratio)
    assert abs(w * h - 16.7e6) / 16.7e6 < 0.02
    assert MODELS[model_id].pixel_size("4K", "1:1") == (4096, 4096)


@pytest.mark.parametrize(
    ("model_id", "resolution"), [(m, r) for m in MODELS for r in MODELS[m].resolutions]
)
@pytest.mark.parametrize("ratio", sorted(set(catalog.ASPECT_RATIOS) - {"auto"}))
def test_pixel_sizes_match_their_ratio(model_id: str, resolution: str, ratio: str) -> None:
    w, h = MODELS[model_id].pixel_size(resolution, ratio)
    a, b = (int(x) for x in ratio.split(":"))
    assert abs((w / h) / (a / b) - 1) < 0.02
    assert w % 8 == 0 and h % 8 == 0


@pytest.mark.parametrize("model_id", list(MODELS))
def test_auto_ratio_without_references_is_square(model_id: str) -> None:
    spec = MODELS[model_id]
    for resolution in spec.resolutions:
        assert spec.pixel_size(resolution, "auto") == spec.pixel_size(resolution, "1:1")


@pytest.mark.parametrize(
    ("size", "allowed", "expected"),
    [
        ((1920, 1080), catalog.ASPECT_RATIOS, "16:9"),
        ((1080, 1920), catalog.ASPECT_RATIOS, "9:16"),
        ((1000, 1000), catalog.ASPECT_RATIOS, "1:1"),
        ((1024, 768), catalog.ASPECT_RATIOS, "4:3"),
        ((600, 900), catalog.ASPECT_RATIOS, "2:3"),
        ((3000, 1280), catalog.ASPECT_RATIOS, "21:9"),
        ((1280, 3000), catalog.ASPECT_RATIOS, "9:21"),
        ((1280, 3000), MODELS[LITE].aspect_ratios, "9:16"),  # 5.0-lite has no 9:21
        ((1000, 1001), ("auto", "16:9", "1:1"), "1:1"),  # never answers "auto"
    ],
)
def test_nearest_ratio(size: tuple[int, int], allowed: tuple[str, ...], expected: str) -> None:
    assert nearest_ratio(*size, allowed) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("doubao-seedrem-4.5", V45),
        ("seedream-45", V45),
        ("doubao-seedream-4.6", V45),
        ("5.0-lit", LITE),
        ("dall-e", None),
    ],
)
def test_suggest_model(name: str, expected: str | None) -> None:
    assert catalog.suggest_model(name) == expected


def test_suggestions_are_always_model_ids() -> None:
    for name in ("4.", "seedream4", "lite", "doubao-seedream", "5.0-lite-x"):
        hint = catalog.suggest_model(name)
        assert hint is None or hint in MODELS


def test_catalog_is_read_only() -> None:
    with pytest.raises(TypeError):
        MODELS["x"] = MODELS[V45]  # type: ignore[index]
    with pytest.raises(AttributeError):
        MODELS[V45].price_per_image_usd = 0.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        MODELS[V45].pixel_sizes["2K"]["1:1"] = (1, 1)  # type: ignore[index]
