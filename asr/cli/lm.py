"""`asr lm`: placeholder until its issue lands (replace this module)."""


def register(sub):
    p = sub.add_parser("lm", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("asr lm: not yet implemented") or 2)
