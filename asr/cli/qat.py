"""`asr qat`: placeholder until its issue lands (replace this module)."""


def register(sub):
    p = sub.add_parser("qat", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("asr qat: not yet implemented") or 2)
