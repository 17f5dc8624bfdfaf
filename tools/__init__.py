"""Tools that rebuild the bundled assets, render datasets and draw the docs' pictures.

A package (maskhand.tools) so its scripts and the tests share its modules (the benchmark renderer,
the panel layout recorder); never shipped in the Blender extension (blender_manifest.toml excludes it).
"""
