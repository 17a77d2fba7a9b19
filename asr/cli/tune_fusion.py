"""`asr tune-fusion`: placeholder until its issue lands (replace this module)."""


def register(sub):
    p = sub.add_parser("tune-fusion", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("asr tune-fusion: not yet implemented") or 2)
