"""`asr data`: placeholder until its issue lands (replace this module)."""


def register(sub):
    p = sub.add_parser("data", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("asr data: not yet implemented") or 2)
