"""The shape of an operator whose work is one workflow call: run it, report its (level, message)
lines; a MaskHandError becomes one ERROR report and CANCELLED, with the scene left as it was."""
from __future__ import annotations

from ..errors import MaskHandError


def report_all(operator, reports) -> None:
    for level, msg in reports:
        operator.report({level}, msg)


class ReportingOperator:
    """Mixin (before bpy.types.Operator): subclasses give `work(context) -> [(level, message)]`."""

    def work(self, context) -> list[tuple[str, str]]:
        raise NotImplementedError

    def execute(self, context):
        try:
            reports = self.work(context)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        report_all(self, reports)
        return {'FINISHED'}
