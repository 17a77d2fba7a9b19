"""`asr export`: placeholder until its issue lands (replace this module)."""


def register(sub):
    p = sub.add_parser("export", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("asr export: not yet implemented") or 2)
