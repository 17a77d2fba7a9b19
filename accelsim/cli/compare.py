"""`accelsim compare`: placeholder until its issue lands (replace this module)."""


def register(sub):
    p = sub.add_parser("compare", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("accelsim compare: not yet implemented") or 2)
