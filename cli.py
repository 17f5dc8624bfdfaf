"""``python -m maskhand``: the headless command line.

Each sub-command prints one plain sentence and exits non-zero when the input is bad
(MaskHandError); anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import MaskHandError
from .inference.take import VIDEO_HYPOTHESES
from .output_paths import check_output_file, check_output_folder, write_text_atomic


def _import_mano(args) -> int:
    _check_outputs(args, out=".blend", preview=".png")
    if args.onto and args.preview:
        raise MaskHandError("--preview renders MaskHand's own rigs; it cannot be combined with --onto")
    from .posefiles import read_pose_file
    from .blender.headless import import_mano_to_blend

    # The reader keeps only that side, and labels files that record no side (issue 16).
    sequences = read_pose_file(args.file, side=args.side, fps=args.fps)
    if args.onto:
        from .blender.headless import import_mano_onto_blend

        summary = import_mano_onto_blend(sequences, args.onto, args.out, preset=args.preset,
                                         mano_dir=args.mano_dir, pose_wrist=not args.fingers_only)
    else:
        summary = import_mano_to_blend(sequences, args.out, mano_dir=args.mano_dir, preview=args.preview)
    for line in summary:
        print(line)
    return 0


def _export_mano_pkl(args) -> int:
    check_output_file(args.out, ".pkl", "the output file")
    from .handmodel.export_pkl import export_mano_pkl
    from .handmodel.registry import load_hand_model

    model = load_hand_model(args.side, args.mano_dir)
    out = export_mano_pkl(model, args.out)
    print(f"wrote {out} ({model.name}, {args.side} hand, {model.v_template.shape[0]} vertices)")
    return 0


def _predict(args) -> int:
    _check_outputs(args, out=".json")
    from .inference.predict import failed, predict

    doc = predict(args.inputs, intrinsics=args.intrinsics, hypotheses=args.hypotheses, seed=args.seed,
                  max_hands=args.max_hands, estimator=args.estimator, mano_dir=args.mano_dir,
                  temperature=1.0 if args.draws_only and args.temperature is None else args.temperature,
                  flip_average=args.flip_average, greedy_first=not args.draws_only)
    write_text_atomic(args.out, json.dumps(doc, indent=1))
    n_hands = sum(len(e["hands"]) for e in doc["images"])
    bad = failed(doc)
    print(f"{len(doc['images'])} image(s), {n_hands} hand(s), {bad} failed; wrote {args.out}")
    for e in doc["images"]:
        if e["error"]:
            print(f"  {e['path']}: {e['error']}", file=sys.stderr)
    return 1 if bad else 0


def _train(args) -> int:
    """One stage, or "all": the tokenizer, then the transformer on top of it, then (with --detections)
    the transformer fine-tuned on real MediaPipe detections of rendered hands (configs/tokenizer.json,
    transformer.json and finetune.json; the bundled weights are all three, docs/MODEL.md says how to make
    their detections)."""
    import tempfile

    repo = Path(__file__).resolve().parent
    if args.what != "all":
        if args.detections:
            raise MaskHandError("--detections belongs to train all; a single stage reads it from its --config")
        return _run_stages({args.what: args.config}, {args.what: args.out}, {}, "--out", steps=args.steps)
    recipe = Path(args.config or repo / "configs")
    if not recipe.is_dir():
        raise MaskHandError(f"with train all, --config names a folder of tokenizer.json, transformer.json and "
                            f"finetune.json (as configs/ holds them); got {recipe}")
    if args.detections and not args.detections.is_file():
        raise MaskHandError(f"detections not found: {args.detections} (tools/collect_detections.py writes them)")
    folder = Path(args.out or repo / "inference" / "model" / "weights")
    check_output_folder(folder, "--out")
    stages = ("tokenizer", "transformer") + (("finetune",) if args.detections else ())
    configs = {s: recipe / f"{s}.json" for s in stages}
    for stage, path in configs.items():
        if not path.is_file():
            raise MaskHandError(f"train all needs {path} for its {stage} stage")
    with tempfile.TemporaryDirectory(prefix="maskhand-train-") as tmp:
        # fine-tuned, the synthetic-data transformer is only the next stage's starting point
        outs = {"tokenizer": folder / "tokenizer.pt",
                "transformer": Path(tmp) / "transformer_synthetic.pt" if args.detections else folder / "transformer.pt",
                "finetune": folder / "transformer.pt"}
        links = {"transformer": {"tokenizer": str(outs["tokenizer"])},
                 "finetune": {"tokenizer": str(outs["tokenizer"]), "init": str(outs["transformer"]),
                              "detections": str(args.detections)}}
        return _run_stages(configs, {s: outs[s] for s in stages}, links, None, steps=args.steps)


def _run_stages(configs: dict, outs: dict, links: dict, out_flag: str | None, steps: int | None = None) -> int:
    """Read every stage's config and check every checkpoint path, then train the stages in order."""
    from .training.config import TokenizerTrainConfig, TransformerTrainConfig, load_config

    cfgs = {}
    for stage, path in configs.items():
        overrides = {"out": str(outs[stage]) if outs[stage] else None, **links.get(stage, {})}
        if steps is not None:
            overrides["steps"] = steps
        cls = TokenizerTrainConfig if stage == "tokenizer" else TransformerTrainConfig
        cfgs[stage] = load_config(cls, path, **overrides)
        if cfgs[stage].out:
            check_output_file(cfgs[stage].out, ".pt", out_flag or f"--out ({Path(cfgs[stage].out).name})")
        if stage != "tokenizer" and cfgs[stage].detections and cfgs[stage].model.image_tokens:
            from .training.detections import require_image_context

            require_image_context(cfgs[stage].detections)
    for stage, cfg in cfgs.items():
        if stage == "tokenizer":
            from .training.train_tokenizer import train
        else:
            from .training.train_transformer import train
        metrics = train(cfg)
        if metrics:
            print(json.dumps({k: v for k, v in metrics.items() if k != "codebook"}, indent=1))
    return 0


def _evaluate(args) -> int:
    from .evaluation import evaluate, load_dataset, markdown_table, write_json

    _check_outputs(args, out=".json", markdown=".md")
    names = [n.strip() for n in args.estimators.split(",") if n.strip()]
    samples = load_dataset(args.dataset, split=args.split, limit=args.limit)

    def progress(name, done, total):
        if done == total or done % 25 == 0:
            print(f"  {name}: {done}/{total} images", file=sys.stderr)

    result = evaluate(samples, names, hypotheses=args.hypotheses, seed=args.seed, mano_dir=args.mano_dir,
                      progress=progress)
    table = markdown_table(result)
    print(f"{result['images']} image(s), {result['hands']} hand(s) from {args.dataset}")
    print(table)
    if args.out:
        write_json(result, args.out)
        print(f"wrote {args.out}")
    if args.markdown:
        write_text_atomic(args.markdown, table + "\n")
        print(f"wrote {args.markdown}")
    return 0


def _check_outputs(args, **suffixes: str) -> None:
    """Every file this command will write, checked before any work: {option name: extension}
    (the option's value may be None: not asked for). OutputFileError names the first bad one."""
    for name, suffix in suffixes.items():
        value = getattr(args, name)
        if value is not None:
            check_output_file(value, suffix, f"--{name.replace('_', '-')}")
    given = {f"--{n.replace('_', '-')}": Path(getattr(args, n)).absolute() for n in suffixes
             if getattr(args, n) is not None}
    if len(set(given.values())) < len(given):
        raise MaskHandError(f"{' and '.join(given)} must name different files; got {getattr(args, next(iter(suffixes)))} "
                            "for both")


def _frame_range(text: str | None):
    """'A:B' (inclusive, 0-based), 'A:' or ':B' -> (first, last) with None for an open end."""
    if text is None:
        return None
    first, sep, last = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return (int(first) if first.strip() else None, int(last) if last.strip() else None)
    except ValueError:
        raise MaskHandError(f"--frames takes FIRST:LAST frame indices (0-based, inclusive), like 0:99; got {text!r}") from None


def _animate(args) -> int:
    from .inference.tracking import track
    from .rigmath.one_euro import params_for_strength

    params_for_strength(args.smoothing)  # a bad strength fails before any work
    frame_range = _frame_range(args.frames)
    _check_outputs(args, out=".blend", preview=".png")
    if args.onto is not None:  # retargeting onto a character: check the file before any work
        from .blender.headless import check_onto_armature

        if args.preview is not None:
            raise MaskHandError("--preview renders MaskHand's own rigs; it cannot be combined with --onto")
        check_onto_armature(args.onto, args.out)

    def progress(done, total, index, hands):
        if done == total or done % 25 == 0:
            print(f"  {done}/{total or '?'} frames", file=sys.stderr)

    take = track(args.input, frame_range, estimator=args.estimator, hypotheses=args.hypotheses, seed=args.seed,
                 max_hands=args.max_hands, on_frame=progress, mano_dir=args.mano_dir)
    n = len(take.frames)
    print(f"read {n} frame(s) ({take.frames[0]}..{take.frames[-1]}); right hand in {take.frames_with('right')}, "
          f"left hand in {take.frames_with('left')}; {take.seconds:.1f} s, {n / take.seconds:.2f} frames/s "
          f"({take.estimator})")
    from .blender.animate import write_take_blend

    _, lines = write_take_blend(take, args.out, smoothing=args.smoothing, preview=args.preview,
                                mano_dir=args.mano_dir, onto=args.onto)
    for line in lines:
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="maskhand", description="MaskHand: hand poses onto Blender hand rigs")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("import-mano", help="key MANO pose files (HaMeR/WiLoR .npz/.pkl, FreiHAND "
                                           "training_mano.json, MaskHand .json) onto a new rig, save a .blend")
    p.add_argument("file", type=Path)
    p.add_argument("--side", choices=("right", "left"), help="only this hand (default: every hand in the file)")
    p.add_argument("--fps", type=float, help="frame rate of the poses (default: the file's, else 30)")
    p.add_argument("--out", type=Path, required=True, help="the .blend to write")
    p.add_argument("--preview", type=Path, help="also render a PNG of the middle frame")
    p.add_argument("--mano-dir", type=Path, help="folder with MANO_*.pkl (default: $MASKHAND_MANO_DIR, "
                                                 "else the bundled open hand)")
    p.add_argument("--onto", metavar="SCENE.blend:ARMATURE",
                   help="key the poses onto this existing armature's hand (Rigify, MPFB, Mixamo, SMPL-X, ...) "
                        "instead of a new rig; see docs/RETARGETING.md")
    p.add_argument("--preset", default="auto",
                   choices=("auto", "rigify", "rigify_metarig", "mpfb", "mixamo", "smplx", "maskhand"),
                   help="bone names of the --onto armature (default: detected from its bone names)")
    p.add_argument("--fingers-only", action="store_true",
                   help="with --onto: pose the fingers only, leave the character's hand bone as it is")
    p.set_defaults(run=_import_mano)

    p = sub.add_parser("predict", help="estimate MANO hands in images; writes one JSON document")
    p.add_argument("inputs", nargs="+", type=Path, help="image files or folders of images")
    p.add_argument("--intrinsics", type=Path, help="JSON: one 3x3 K for all images, or a list, one per image "
                                                   "(default: focal length = the image's longer side in pixels)")
    p.add_argument("--hypotheses", type=int, default=1, help="hypotheses per hand (the generative model)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the sampled hypotheses")
    p.add_argument("--temperature", type=float, default=None,
                   help="temperature of the drawn hypotheses (default 1); the first is the greedy answer "
                        "(the model's most likely hand) unless --draws-only")
    p.add_argument("--draws-only", action="store_true",
                   help="draw every hypothesis at the temperature (default 1), the first too (default: the first "
                        "is greedy)")
    p.add_argument("--max-hands", type=int, default=2)
    p.add_argument("--estimator", default="auto", choices=("auto", "model", "fitted", "mediapipe"))
    p.add_argument("--flip-average", action="store_true",
                   help="test-time flip averaging of the model's second look at each hand (its crop and the "
                        "crop's mirror image; about 30 ms more per hand on a CPU)")
    p.add_argument("--mano-dir", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=_predict)

    p = sub.add_parser("train", help="train the generative model's tokenizer or transformer (CPU, GPU, or "
                                     "torchrun for several GPUs); see docs/MODEL.md")
    p.add_argument("what", choices=("all", "tokenizer", "transformer"),
                   help="all = the tokenizer, then the transformer on it, then with --detections the fine-tune "
                        "on them (all three: how the bundled weights were made)")
    p.add_argument("--detections", type=Path,
                   help="with all: tools/collect_detections.py's .npz of MediaPipe on rendered hands, for the "
                        "fine-tuning stage (configs/finetune.json trains image tokens: collect with "
                        "--image-context 4)")
    p.add_argument("--config", type=Path, help="JSON file overriding the defaults (any subset of the fields); "
                                               "with all: a folder of one such file per stage (default: configs/)")
    p.add_argument("--steps", type=int, help="override the number of steps")
    p.add_argument("--out", type=Path, help="checkpoint to write (default: the bundled weights); "
                                            "with all: the folder for tokenizer.pt and transformer.pt")
    p.set_defaults(run=_train)

    p = sub.add_parser("export-mano-pkl", help="write the active hand model in MANO's pickle layout "
                                               "(plain numpy/scipy, loadable by smplx)")
    p.add_argument("--side", choices=("right", "left"), default="right")
    p.add_argument("--mano-dir", type=Path)
    p.add_argument("out", type=Path)
    p.set_defaults(run=_export_mano_pkl)

    p = sub.add_parser("evaluate", help="score estimators on annotated images (FreiHAND layout or a gt3d JSON): "
                                        "detection rate, PA-MPJPE/MPVPE, F@5/15mm, AUC, 2D PCK; see docs/EVALUATION.md")
    p.add_argument("dataset", type=Path, help="FreiHAND-layout folder, or a gt3d .json file")
    p.add_argument("--split", choices=("evaluation", "training"), help="FreiHAND split (default: the one present)")
    p.add_argument("--estimators", default="mediapipe,fitted", help="comma-separated: mediapipe, fitted, model")
    p.add_argument("--hypotheses", type=int, default=1, help="hypotheses per hand; >1 adds a best-of-N row")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, help="only the first N images")
    p.add_argument("--mano-dir", type=Path)
    p.add_argument("--out", type=Path, help="JSON with every per-hand number")
    p.add_argument("--markdown", type=Path, help="write the table to this Markdown file")
    p.set_defaults(run=_evaluate)
    p = sub.add_parser("animate", help="track hands through a video, image folder or image and key one rig per "
                                       "hand side into a .blend (one action per rig, a key per frame with that hand)")
    p.add_argument("input", type=Path, help="a movie file, a folder of images, a numbered pattern, or one image")
    p.add_argument("--frames", metavar="A:B", help="only source frames A..B (0-based, inclusive; A: or :B open)")
    p.add_argument("--hypotheses", type=int, default=VIDEO_HYPOTHESES,
                   help="hypotheses per hand and frame (the generative model); the path through them that is "
                        f"likely and smooth is keyed (default {VIDEO_HYPOTHESES})")
    p.add_argument("--seed", type=int, default=0, help="random seed, the same for every frame")
    p.add_argument("--estimator", default="auto", choices=("auto", "model", "fitted"))
    p.add_argument("--smoothing", type=float, default=0.5, help="One Euro filter strength, 0 (none) .. 1")
    p.add_argument("--max-hands", type=int, default=2)
    p.add_argument("--preview", type=Path, help="also render a PNG of four keyed frames")
    p.add_argument("--onto", metavar="SCENE.blend:ARMATURE", help="key this existing armature's hand(s) "
                   "(Rigify, MPFB, Mixamo, SMPL-X, ...; mapping detected from bone names) instead of new rigs")
    p.add_argument("--mano-dir", type=Path)
    p.add_argument("--out", type=Path, required=True, help="the .blend to write")
    p.set_defaults(run=_animate)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except MaskHandError as err:
        print(f"maskhand: {err}", file=sys.stderr)
        return 1
