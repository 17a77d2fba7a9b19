"""`accelsim generate`: placeholder until its issue lands (replace this module)."""


def register(sub):
    p = sub.add_parser("generate", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("accelsim generate: not yet implemented") or 2)
