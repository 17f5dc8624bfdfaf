"""tools/render_panels.py (docs/images/panels.png, issue 15): sub-panels drawn inside their parent,
icon-only buttons one unit wide, list rows with progress bars."""
import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("PIL")
bpy = pytest.importorskip("bpy")
from maskhand.tools.layout_recorder import Widget  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rp():
    spec = importlib.util.spec_from_file_location("render_panels", REPO / "tools" / "render_panels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _panel(*children):
    return Widget("panel", children=list(children))


def test_sub_panels_sit_inside_their_parent(rp):
    parent, child = _panel(Widget("label", text="top")), _panel(Widget("label", text="inside"))
    flat = rp.draw_panels([("MaskHand", parent), ("Source", child)], rp.SIDEBAR_WIDTH)
    nested = rp.draw_panels([("MaskHand", parent, 0), ("Source", child, 1)], rp.SIDEBAR_WIDTH)
    assert abs(nested.height - flat.height) <= 2 * rp.GAP  # the same rows, one background instead of two
    def pixels(image, colour):
        return dict((c, n) for n, c in image.getcolors(maxcolors=1 << 20)).get(colour, 0)

    header_area = rp.SIDEBAR_WIDTH * rp.U  # about one header bar's pixels
    assert pixels(nested, rp.THEME["subheader"]) > header_area // 2 > pixels(flat, rp.THEME["subheader"])
    closed = rp.draw_panels([("MaskHand", None, 0), ("Source", child, 1)], rp.SIDEBAR_WIDTH)
    assert closed.height < nested.height  # a closed parent hides its sub-panels


def test_icon_only_buttons_are_one_unit_wide(rp):
    painter = rp.Painter(None)
    row = Widget("row", align=True, children=[Widget("prop", text="Smoothing", style="slider"),
                                              Widget("operator", text="", icon='SMOOTHCURVE')])
    (x0, w0), (x1, w1) = painter._cells(row, 300)
    assert w1 == rp.U and x1 == w0 and w0 + w1 == 300


def test_list_rows_draw_their_progress_bars(rp):
    rows = [Widget("list_row", active=i == 0, children=[Widget("label", text=f"R1  #{i + 1}"),
                                                        Widget("progress", text=f"{f:.0%}", factor=f)])
            for i, f in enumerate((0.6, 0.3, 0.1))]
    image = rp.draw_panels([("Hypotheses", _panel(Widget("list", columns=3, children=rows)))], rp.SIDEBAR_WIDTH)
    colours = {c for _, c in image.getcolors(maxcolors=1 << 20)}
    assert {rp.THEME["blue"], rp.THEME["list_active"], rp.THEME["field"]} <= colours
