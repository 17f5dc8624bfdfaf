"""The start of every script that installs the built extension the way a user does (Get Extensions >
Install from Disk) into a fresh Blender user folder: argv[1] the zip, argv[2] a local repository
folder. It leaves `mod` (bl_ext.<repo>.maskhand) and `out` (the dict the script prints) defined."""

INSTALL_PROLOGUE = r'''
import json, os, sys, traceback
sys.excepthook = lambda *exc: (traceback.print_exception(*exc), sys.stderr.flush(), os._exit(1))  # no hang at exit
import bpy
import addon_utils  # on sys.path only once bpy is imported

zip_path, repo_dir = sys.argv[1], sys.argv[2]
out = {}
bpy.ops.preferences.extension_repo_add(name="maskhand_test", type="LOCAL", use_custom_directory=True,
                                       custom_directory=repo_dir)
repo = next(r for r in bpy.context.preferences.extensions.repos if r.directory == repo_dir)
out["install"] = sorted(bpy.ops.extensions.package_install_files(filepath=zip_path, repo=repo.module,
                                                                 enable_on_install=True))
mod = f"bl_ext.{repo.module}.maskhand"
out["module"] = mod
'''

RESULT_EPILOGUE = r'''
print("RESULT " + json.dumps(out))
sys.stdout.flush()
os._exit(0)  # bpy can hang while the interpreter shuts down
'''
