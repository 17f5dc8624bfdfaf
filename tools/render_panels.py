"""Render docs/images/panels.png: MaskHand's sidebar and preferences as their draw() code lays them out.

bpy as a module has no window to screenshot, so this runs the real workflow headless (the add-on
registered, a rig added, Estimate run on samples/hand_photo.jpg by the real backend), records what
every panel's draw() asks for with tools/layout_recorder.py, and draws those widgets in the
colours of Blender's default dark theme: the sub-panels (bl_parent_id) inside their parent, the UI
list's rows with their progress bars, icon-only buttons one unit wide. Every label, value, list row
and button in the picture comes from the live scene; the widget shapes are this script's
approximation (no icons: a few icon-only buttons get a glyph).

    .venv/bin/python tools/render_panels.py [--out docs/images/panels.png] [--image samples/hand_photo.jpg]
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
S = 2                    # pixels per Blender UI pixel (a HiDPI screen)
U = 20 * S               # Blender's UI unit: the height of one widget row
GAP = 2 * S
PAD = 5 * S
SIDEBAR_WIDTH = 300 * S
PREFS_WIDTH = 520 * S

THEME = {  # Blender 4.x default theme, approximately
    "region": (48, 48, 48), "panel": (56, 56, 56), "header": (61, 61, 61), "box": (43, 43, 43),
    "button": (84, 84, 84), "field": (40, 40, 40), "text_field": (29, 29, 29), "blue": (71, 114, 179),
    "text": (230, 230, 230), "dim": (160, 160, 160), "list": (34, 34, 34), "list_active": (51, 77, 128),
    "tab": (40, 40, 40), "outline": (30, 30, 30), "subpanel": (52, 52, 52), "subheader": (58, 58, 58),
}

# Icon-only buttons: Blender draws the icon in a square button one unit wide; this script has no
# icons, so a few get a glyph from the font and the rest a dot.
GLYPHS = {'SMOOTHCURVE': "∿", 'FILE_REFRESH': "↻", 'ADD': "+", 'REMOVE': "−", 'X': "×", 'FILE_FOLDER': "…"}


def _font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (Blender's UI font before 4.0), from matplotlib's data, which the dev venv has."""
    spec = importlib.util.find_spec("matplotlib")
    path = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(path), size)


FONT = _font(11 * S)


class Painter:
    """Lays recorded widgets out top to bottom (rows side by side) and draws them."""

    def __init__(self, draw: ImageDraw.ImageDraw):
        self.d = draw

    # Sizes ------------------------------------------------------------------------------------
    def height(self, w, width) -> int:
        kind = w.kind
        if kind in ("panel", "column", "box"):
            inner_width = width - 2 * PAD if kind == "box" else width
            inner = sum(self.height(c, inner_width) for c in w.children)
            inner += (0 if w.align else GAP) * max(len(w.children) - 1, 0)
            return inner + (2 * PAD if kind == "box" else 0)
        if kind in ("row", "split", "list_row"):
            cells = self._cells(w, width)
            return max((self.height(c, cw) for c, (_, cw) in zip(w.children, cells)), default=U)
        if kind == "grid":
            rows = -(-len(w.children) // max(w.columns, 1))
            return rows * U
        if kind == "list":
            return max(len(w.children), w.columns) * U + 2 * GAP
        if kind == "separator":
            return GAP * 3
        return U

    def _cells(self, w, width):
        """(x offset, width) of each child of a row or split."""
        n = len(w.children)
        if n == 0:
            return []
        if w.kind == "split" and n > 1:
            first = int(width * (w.factor or 0.5))
            rest = (width - first) // (n - 1)
            return [(0, first)] + [(first + i * rest, rest) for i in range(n - 1)]
        gap = 0 if w.align else GAP
        narrow = [_icon_only(c) for c in w.children]
        wide = n - sum(narrow)
        if wide == 0:
            cell = (width - gap * (n - 1)) // n
            return [(i * (cell + gap), cell) for i in range(n)]
        cell = (width - gap * (n - 1) - U * sum(narrow)) // wide
        out, x = [], 0
        for is_narrow in narrow:
            cw = U if is_narrow else cell
            out.append((x, cw))
            x += cw + gap
        return out

    # Drawing ----------------------------------------------------------------------------------
    def draw(self, w, x, y, width) -> int:
        """Draw `w` with its top-left at (x, y); returns its height."""
        kind = w.kind
        if kind in ("panel", "column", "box"):
            h = self.height(w, width)
            inset = 0
            if kind == "box":
                self._rect(x, y, width, h, THEME["box"], radius=4 * S)
                inset = PAD
            cy = y + inset
            for child in w.children:
                cy += self.draw(child, x + inset, cy, width - 2 * inset) + (0 if w.align else GAP)
            return h
        if kind in ("row", "split", "list_row"):
            h = 0
            for child, (dx, cw) in zip(w.children, self._cells(w, width)):
                h = max(h, self.draw(child, x + dx, y, cw))
            return h or U
        if kind == "grid":
            cols = max(w.columns, 1)
            cw = width // cols
            for i, child in enumerate(w.children):
                self.draw(child, x + (i % cols) * cw, y + (i // cols) * U, cw)
            return self.height(w, width)
        if kind == "list":
            h = self.height(w, width)
            self._rect(x, y, width, h, THEME["list"], radius=3 * S)
            for i, row in enumerate(w.children):
                ry = y + GAP + i * U
                if row.active:
                    self._rect(x + GAP, ry, width - 2 * GAP, U, THEME["list_active"], radius=3 * S)
                self.draw(row, x + 2 * GAP, ry, width - 4 * GAP)
            return h
        if kind == "separator":
            return GAP * 3
        getattr(self, "_" + kind)(w, x, y, width)
        return U

    def _label(self, w, x, y, width):
        self._text(w.text, x + 2 * S, y, width - 4 * S, THEME["text"])

    def _operator(self, w, x, y, width):
        self._rect(x, y + S, width, U - 2 * S, THEME["blue"] if w.active else THEME["button"], radius=4 * S)
        text = GLYPHS.get(w.icon, "•") if _icon_only(w) else w.text
        self._text(text, x, y, width, THEME["text"], center=True)

    def _progress(self, w, x, y, width):
        self._rect(x, y + S, width, U - 2 * S, THEME["field"], radius=4 * S)
        self._rect(x, y + S, max(int(width * w.factor), 1), U - 2 * S, THEME["blue"], radius=4 * S)
        self._text(w.text, x, y, width, THEME["text"], center=True)

    def _template_ID(self, w, x, y, width):
        self._rect(x, y + S, width, U - 2 * S, THEME["field"], radius=4 * S)
        self._text(w.value or "(none)", x + 4 * S, y, width - 8 * S, THEME["text"])

    def _prop(self, w, x, y, width):
        style, label = w.style, w.text
        if style in ("checkbox",):
            box = U - 8 * S
            self._rect(x + 2 * S, y + 4 * S, box, box, THEME["blue"] if w.value else THEME["button"], radius=3 * S)
            if w.value:
                c = (x + 2 * S + box // 2, y + U // 2)
                self.d.line([(c[0] - 4 * S, c[1]), (c[0] - S, c[1] + 3 * S), (c[0] + 4 * S, c[1] - 4 * S)],
                            fill=THEME["text"], width=2 * S)
            self._text(label, x + box + 7 * S, y, width - box - 7 * S, THEME["text"])
            return
        if style == "toggle":
            self._rect(x + S, y + S, width - 2 * S, U - 2 * S, THEME["blue"] if w.value else THEME["button"],
                       radius=3 * S)
            self._text(label, x, y, width, THEME["text"], center=True)
            return
        if style == "expand":
            n = len(w.options)
            cw = width // max(n, 1)
            for i, (_, name) in enumerate(w.options):
                self._rect(x + i * cw, y + S, cw - S, U - 2 * S, THEME["blue"] if name == w.value else THEME["button"],
                           radius=3 * S)
                self._text(name, x + i * cw, y, cw, THEME["text"], center=True)
            return
        if style in ("number", "slider"):
            self._rect(x, y + S, width, U - 2 * S, THEME["field"], radius=4 * S)
            if style == "slider":
                self._rect(x, y + S, max(int(width * min(max(w.factor, 0.0), 1.0)), 1), U - 2 * S, THEME["blue"],
                           radius=4 * S)
            half = width // 2
            self._text(label, x + 6 * S, y, half, THEME["text"])
            self._text(str(w.value), x + half, y, half - 6 * S, THEME["text"], right=True)
            return
        # enum, text, pointer, search: "Label" on the left, the field on the right (the whole width if no label)
        field_x, field_w = x, width
        if label:
            split = int(width * 0.4)
            self._text(label, x + 2 * S, y, split - 6 * S, THEME["text"])
            field_x, field_w = x + split, width - split
        fill = THEME["text_field"] if style == "text" else THEME["field"]
        self._rect(field_x, y + S, field_w, U - 2 * S, fill, radius=4 * S)
        shown = str(w.value) if w.value not in (None, "") else ""
        if style == "text" and shown:
            shown = _tail(shown)
        self._text(shown, field_x + 6 * S, y, field_w - (20 if style == "enum" else 12) * S, THEME["text"])
        if style == "enum":
            ax, ay = field_x + field_w - 10 * S, y + U // 2
            self.d.polygon([(ax - 3 * S, ay - 2 * S), (ax + 3 * S, ay - 2 * S), (ax, ay + 2 * S)], fill=THEME["dim"])

    # Primitives -------------------------------------------------------------------------------
    def _rect(self, x, y, w, h, fill, radius=0):
        self.d.rounded_rectangle([x, y, x + w - 1, y + h - 1], radius=radius, fill=fill, outline=THEME["outline"])

    def _text(self, text, x, y, width, fill, center=False, right=False, font=FONT):
        text = _fit(text, width, font)
        tw = self.d.textlength(text, font=font)
        if center:
            x += (width - tw) / 2
        elif right:
            x += width - tw
        self.d.text((x, y + U / 2), text, fill=fill, font=font, anchor="lm")


def _icon_only(w) -> bool:
    """An operator button with an icon and no text (Blender makes it one unit wide)."""
    return w.kind == "operator" and not w.text and w.icon != 'NONE'


def _fit(text: str, width: float, font) -> str:
    """`text` cut with an ellipsis in the middle to fit `width`, as Blender shortens labels."""
    if width <= 0:
        return ""
    if font.getlength(text) <= width:
        return text
    keep = len(text)
    while keep > 1:
        keep -= 1
        short = text[: (keep + 1) // 2] + "…" + text[len(text) - keep // 2:]
        if font.getlength(short) <= width:
            return short
    return "…"


def _tail(path: str) -> str:
    """File paths as a sidebar shows them when narrow: the end matters."""
    return path if len(path) < 30 else "…" + path[-28:]


def draw_panels(panels, width: int, title: str | None = None) -> Image.Image:
    """One column of panels -> an image. panels: [(label, recorded tree or None when closed)] or
    [(label, tree, depth)]: a depth-1 entry is a sub-panel (bl_parent_id) of the depth-0 entry
    before it, drawn inside the parent's background with its own header, as Blender nests them."""
    header = int(U * 1.2)
    probe = Painter(ImageDraw.Draw(Image.new("RGB", (1, 1))))
    entries = [(p[0], p[1], p[2] if len(p) > 2 else 0) for p in panels]

    def inner_width(depth):  # the content width of a panel at `depth`
        return width - 2 * GAP - 2 * PAD - 2 * depth * GAP

    def own_height(tree, depth):  # header + content of one panel, its sub-panels not included
        return header + (probe.height(tree, inner_width(depth)) + 2 * PAD if tree is not None else 0)

    groups = []  # [(top entry, [sub entries])]
    for entry in entries:
        if entry[2] == 0 or not groups:
            groups.append((entry, []))
        else:
            groups[-1][1].append(entry)
    heights = []
    for (label, tree, depth), subs in groups:
        h = own_height(tree, depth)
        if tree is not None:  # a closed parent hides its sub-panels
            h += sum(own_height(sub_tree, 1) + GAP for _, sub_tree, _ in subs) + (GAP if subs else 0)
        heights.append(h)
    top = U if title else 0
    total = top + sum(heights) + GAP * (len(groups) + 1)
    image = Image.new("RGB", (width, total), THEME["region"])
    painter = Painter(ImageDraw.Draw(image))
    if title:
        painter._text(title, PAD, 0, width - 2 * PAD, THEME["dim"])

    def header_bar(x, y, w, label, is_open, fill):
        painter._rect(x, y, w, header, fill, radius=4 * S)
        ax, ay = x + 10 * S, y + header // 2
        arrow = [(ax - 4 * S, ay - 2 * S), (ax + 4 * S, ay - 2 * S), (ax, ay + 3 * S)] if is_open else \
            [(ax - 2 * S, ay - 4 * S), (ax - 2 * S, ay + 4 * S), (ax + 3 * S, ay)]
        painter.d.polygon(arrow, fill=THEME["text"])
        painter.d.text((x + 20 * S, ay), label, fill=THEME["text"], font=FONT, anchor="lm")

    y = top + GAP
    for ((label, tree, _), subs), h in zip(groups, heights):
        painter._rect(GAP, y, width - 2 * GAP, h, THEME["panel"], radius=4 * S)
        header_bar(GAP, y, width - 2 * GAP, label, tree is not None, THEME["header"])
        cy = y + header
        if tree is not None:
            painter.draw(tree, GAP + PAD, cy + PAD, inner_width(0))
            cy += probe.height(tree, inner_width(0)) + 2 * PAD
            for sub_label, sub_tree, _ in subs:
                sx, sw = 2 * GAP, width - 4 * GAP
                sh = own_height(sub_tree, 1)
                painter._rect(sx, cy, sw, sh, THEME["subpanel"], radius=4 * S)
                header_bar(sx, cy, sw, sub_label, sub_tree is not None, THEME["subheader"])
                if sub_tree is not None:
                    painter.draw(sub_tree, sx + PAD, cy + header + PAD, inner_width(1))
                cy += sh + GAP
        y += h + GAP
    return image


def with_tab(sidebar: Image.Image, name: str) -> Image.Image:
    """The sidebar with its vertical tab strip on the right, the `name` tab active."""
    strip = 22 * S
    out = Image.new("RGB", (sidebar.width + strip, sidebar.height), THEME["tab"])
    out.paste(sidebar, (0, 0))
    label = Image.new("RGB", (int(FONT.getlength(name)) + 24 * S, strip), THEME["region"])
    ImageDraw.Draw(label).text((12 * S, strip // 2), name, fill=THEME["text"], font=FONT, anchor="lm")
    out.paste(label.rotate(-90, expand=True), (sidebar.width, 4 * S))
    return out


def compose(parts: list[Image.Image], caption: list[str]) -> Image.Image:
    """Side by side on a dark backdrop, with caption lines underneath."""
    margin = 12 * S
    height = max(p.height for p in parts) + 2 * margin + U * len(caption)
    width = sum(p.width for p in parts) + margin * (len(parts) + 1)
    out = Image.new("RGB", (width, height), (24, 24, 24))
    x = margin
    for part in parts:
        out.paste(part, (x, margin))
        x += part.width + margin
    for i, line in enumerate(caption):
        ImageDraw.Draw(out).text((margin, height - margin - U * (len(caption) - i) + U // 2),
                                 _fit(line, width - 2 * margin, FONT), fill=THEME["dim"], font=FONT, anchor="lm")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "images" / "panels.png"))
    parser.add_argument("--image", default=str(REPO / "samples" / "hand_photo.jpg"))
    parser.add_argument("--hypotheses", type=int, default=5)
    args = parser.parse_args(argv)

    import bpy

    import maskhand
    from maskhand import prefs
    from maskhand.tools.layout_recorder import record_draw

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.preferences.addons.new().module = "maskhand"  # as enabling the add-on does, for its preferences
    maskhand.register()
    p = prefs.get(bpy.context)
    p.backend_python, p.device = sys.executable, 'AUTO'  # this venv has the backend's packages
    try:
        bpy.ops.object.maskhand_add_rig(side='RIGHT')
        s = bpy.context.scene.maskhand.estimate
        s.image_path, s.hypotheses_count = str(Path(args.image).resolve()), args.hypotheses
        bpy.ops.view3d.maskhand_estimate()
        s.lock_thumb = True  # one finger kept, as when resampling the others
        bpy.ops.preferences.maskhand_check_backend()  # the preferences' report line
        context = bpy.context
        panels = []
        from maskhand.panels import panel_classes
        for cls in panel_classes():  # sub-panels (bl_parent_id) follow their parent, drawn inside it
            closed = 'DEFAULT_CLOSED' in getattr(cls, "bl_options", set())
            panels.append((cls.bl_label, None if closed else record_draw(cls, context),
                           1 if getattr(cls, "bl_parent_id", "") else 0))
        sidebar = with_tab(draw_panels(panels, SIDEBAR_WIDTH), "MaskHand")
        preferences = draw_panels([("MaskHand (Preferences > Add-ons)", record_draw(type(p), context, owner=p))],
                                  PREFS_WIDTH)
        caption = [f"The MaskHand sidebar tab after Estimate on {Path(args.image).name} ({s.status}), and the add-on's "
                   "preferences.",
                   "Drawn by tools/render_panels.py from the panels' own draw() on the live scene (not a Blender "
                   "screenshot: widget shapes approximate, no icons)."]
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        compose([sidebar, preferences], caption).save(out, optimize=True)
        print(f"wrote {out}")
    finally:
        maskhand.unregister()
        from maskhand.blender import backend_client
        backend_client.shutdown_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
