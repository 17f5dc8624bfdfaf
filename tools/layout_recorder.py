"""A stand-in for bpy.types.UILayout that records what a panel's draw() asks for.

bpy as a module has no window, so Blender never calls our panels' draw() there and a wrong property
name or operator id in a panel would only show up as a red error in a user's sidebar. Running draw()
against this recorder, with real bpy data, checks every name the way Blender resolves it (RNA
properties, registered operators and UI lists) and keeps the widgets as a tree that
tools/render_panels.py draws into docs/images/panels.png. Only the UILayout calls MaskHand's panels
make are implemented; any other raises AttributeError, so a new call cannot be skipped silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import bpy


class LayoutError(Exception):
    """A draw() call that Blender would draw as an error: unknown property, operator or UI list."""


@dataclass
class Widget:
    """One recorded item. kind: label, separator, prop, operator, progress, template_ID, or a container
    (panel, column, row, box, split, grid, list and its list_row); text is what Blender would print."""
    kind: str
    text: str = ""
    icon: str = 'NONE'
    value: object = None
    style: str = ""        # prop: checkbox, toggle, enum, expand, number, slider, text, pointer
    options: list = field(default_factory=list)  # enum items: (identifier, name)
    active: bool = False   # a pressed toggle / the active list row
    align: bool = False
    factor: float = 0.0    # split factor, progress fraction
    columns: int = 0       # grid columns; a list's minimum rows
    children: list = field(default_factory=list)

    def walk(self):
        """This widget and everything inside it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


class OperatorArgs:
    """What layout.operator() returns: a place to set the button's operator properties, checked."""

    def __init__(self, idname: str, rna):
        object.__setattr__(self, "_idname", idname)
        object.__setattr__(self, "_names", {p.identifier for p in rna.properties})
        object.__setattr__(self, "values", {})

    def __setattr__(self, name, value):
        if name not in self._names:
            raise LayoutError(f"operator {self._idname} has no property {name!r}")
        self.values[name] = value


def _operator_rna(idname: str):
    """The RNA of a registered operator 'area.name', or LayoutError."""
    area, _, name = idname.partition(".")
    try:
        return getattr(getattr(bpy.ops, area), name).get_rna_type()
    except (AttributeError, KeyError) as err:
        raise LayoutError(f"no operator {idname!r} is registered") from err


def _enum_name(prop, identifier) -> str:
    for item in prop.enum_items:
        if item.identifier == identifier:
            return item.name
    return str(identifier)


class RecordingLayout:
    """The recorder: one instance per container, mirroring UILayout's tree."""

    def __init__(self, context, node: Widget | None = None):
        object.__setattr__(self, "_context", context)
        object.__setattr__(self, "node", node or Widget("panel"))

    # UILayout's display flags (enabled, alert, scale_y, use_property_split, ...): accepted, kept.
    def __setattr__(self, name, value):
        if name not in {"enabled", "active", "alert", "scale_x", "scale_y", "use_property_split",
                        "use_property_decorate", "operator_context", "alignment", "emboss"}:
            raise AttributeError(f"UILayout has no attribute {name!r}")
        object.__setattr__(self, name, value)

    def _add(self, widget: Widget) -> Widget:
        self.node.children.append(widget)
        return widget

    def _child(self, kind: str, **kw) -> "RecordingLayout":
        return RecordingLayout(self._context, self._add(Widget(kind, **kw)))

    # Containers
    def row(self, align=False, heading="", heading_ctxt="", translate=True):
        return self._child("row", align=align, text=heading)

    def column(self, align=False, heading="", heading_ctxt="", translate=True):
        return self._child("column", align=align, text=heading)

    def box(self):
        return self._child("box")

    def split(self, factor=0.0, align=False):
        return self._child("split", factor=factor, align=align)

    def grid_flow(self, row_major=False, columns=0, even_columns=False, even_rows=False, align=False):
        return self._child("grid", columns=columns, align=align)

    # Items
    def label(self, text="", text_ctxt="", translate=True, icon='NONE', icon_value=0):
        self._add(Widget("label", text=text, icon=icon))

    def separator(self, factor=1.0, type='AUTO'):
        self._add(Widget("separator", factor=factor))

    def menu(self, menu, text="", text_ctxt="", translate=True, icon='NONE', icon_value=0):
        cls = getattr(bpy.types, menu, None)
        if cls is None or not issubclass(cls, bpy.types.Menu):
            raise LayoutError(f"unknown menu {menu!r}")
        self._add(Widget("menu", text=text or cls.bl_label, icon=icon, value=menu))

    def progress(self, text="", text_ctxt="", translate=True, factor=0.0, type='BAR'):
        self._add(Widget("progress", text=text, factor=factor))

    def operator(self, operator, text=None, text_ctxt="", translate=True, icon='NONE', emboss=True,
                 depress=False, icon_value=0, search_weight=0.0):
        rna = _operator_rna(operator)
        self._add(Widget("operator", text=rna.name if text is None else text, icon=icon, value=operator,
                         active=depress))
        return OperatorArgs(operator, rna)

    def prop(self, data, property, text=None, text_ctxt="", translate=True, icon='NONE', placeholder="",
             expand=False, slider=False, toggle=-1, icon_only=False, event=False, full_event=False, emboss=True,
             index=-1, icon_value=0, invert_checkbox=False):
        prop = _rna_property(data, property)
        value = getattr(data, property)
        label = prop.name if text is None else text
        if prop.type == 'BOOLEAN':
            style = "toggle" if toggle == 1 or (toggle == -1 and icon != 'NONE') else "checkbox"
            self._add(Widget("prop", text=label, icon=icon, value=bool(value), style=style, active=bool(value)))
        elif prop.type == 'ENUM':
            items = [(item.identifier, item.name) for item in prop.enum_items]
            style = "expand" if expand else "enum"
            self._add(Widget("prop", text=label, icon=icon, value=_enum_name(prop, value), style=style,
                             options=items, active=False))
        elif prop.type in {'INT', 'FLOAT'}:
            factor = 0.0
            if slider or prop.subtype == 'FACTOR' or prop.subtype == 'PERCENTAGE':
                lo, hi = prop.soft_min, prop.soft_max
                factor = (value - lo) / (hi - lo) if hi > lo else 0.0
                style = "slider"
            else:
                style = "number"
            unit = "%" if prop.subtype == 'PERCENTAGE' else ""
            text_value = f"{value}{unit}" if prop.type == 'INT' else f"{value:.{prop.precision}f}{unit}"
            self._add(Widget("prop", text=label, icon=icon, value=text_value, style=style, factor=factor))
        elif prop.type == 'STRING':
            self._add(Widget("prop", text=label, icon=icon, value=value, style="text"))
        elif prop.type == 'POINTER':
            self._add(Widget("prop", text=label, icon=icon, value=getattr(value, "name", ""), style="pointer"))
        else:
            raise LayoutError(f"the recorder does not draw {prop.type} properties ({property})")

    def prop_search(self, data, property, search_data, search_property, text=None, text_ctxt="",
                    translate=True, icon='NONE', results_are_suggestions=False, item_search_property=""):
        prop = _rna_property(data, property)
        _rna_property(search_data, search_property)
        self._add(Widget("prop", text=prop.name if text is None else text, icon=icon,
                         value=str(getattr(data, property)), style="search"))

    def template_ID(self, data, property, new="", open="", unlink="", filter='ALL', live_icon=False, text="",
                    text_ctxt="", translate=True):
        _rna_property(data, property)
        for idname in (new, open, unlink):
            if idname:
                _operator_rna(idname)
        value = getattr(data, property)
        self._add(Widget("template_ID", text=text, value=getattr(value, "name", ""), icon=open or new))

    def template_list(self, listtype_name, list_id, dataptr, propname, active_dataptr, active_propname,
                      item_dyntip_propname="", rows=5, maxrows=5, type='DEFAULT', columns=9,
                      sort_reverse=False, sort_lock=False):
        """Draws each item with the UI list's own draw_item, as Blender does."""
        list_cls = getattr(bpy.types, listtype_name, None)
        if list_cls is None or not issubclass(list_cls, bpy.types.UIList):
            raise LayoutError(f"no UI list {listtype_name!r} is registered")
        _rna_property(dataptr, propname)
        _rna_property(active_dataptr, active_propname)
        items = getattr(dataptr, propname)
        active = getattr(active_dataptr, active_propname)
        widget = self._add(Widget("list", columns=rows))
        drawer = _StandIn(list_cls)  # a UIList instance exists only inside a window
        for index, item in enumerate(items):
            row = RecordingLayout(self._context, Widget("list_row", active=index == active))
            list_cls.draw_item(drawer, self._context, row, dataptr, item, 0, active_dataptr, active_propname, index)
            widget.children.append(row.node)


def _rna_property(data, name: str):
    """data's RNA property `name`, or LayoutError (Blender draws 'property not found' in red)."""
    props = data.bl_rna.properties
    if name not in props:
        raise LayoutError(f"{data.bl_rna.identifier} has no property {name!r}")
    return props[name]


class _StandIn:
    """`self` for a draw function called outside Blender's UI: attributes set here win, others are read
    from `source` (the class, or the preferences instance)."""

    def __init__(self, source):
        self._source = source

    def __getattr__(self, name):
        return getattr(self._source, name)


def record_draw(cls, context, owner=None) -> Widget:
    """Run `cls.draw` (a Panel, Menu or AddonPreferences class) on a recorder and return the recorded tree.
    `self` inside draw() is a stand-in whose `layout` is the recorder and whose other attributes
    come from `owner` (the preferences instance, say) or else from the class."""
    layout = RecordingLayout(context)
    me = _StandIn(owner if owner is not None else cls)
    me.layout = layout
    cls.draw(me, context)
    layout.node.text = getattr(cls, "bl_label", "")
    return layout.node
