"""`asr eval`: placeholder until its issue lands (replace this module)."""


def register(sub):
    p = sub.add_parser("eval", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("asr eval: not yet implemented") or 2)
