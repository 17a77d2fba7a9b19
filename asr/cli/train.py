"""`asr train`: placeholder until its issue lands (replace this module)."""


def register(sub):
    p = sub.add_parser("train", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("asr train: not yet implemented") or 2)
