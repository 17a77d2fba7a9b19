"""`asr trace`: placeholder until its issue lands (replace this module)."""


def register(sub):
    p = sub.add_parser("trace", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("asr trace: not yet implemented") or 2)
