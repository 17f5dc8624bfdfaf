"""Pure numpy maths between MANO parameters and a Blender armature (no bpy here).

Blender's side reads bone rest matrices, calls these functions, and writes the results.
"""
