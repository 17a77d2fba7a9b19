"""`asr decode`: placeholder until its issue lands (replace this module)."""


def register(sub):
    p = sub.add_parser("decode", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("asr decode: not yet implemented") or 2)
