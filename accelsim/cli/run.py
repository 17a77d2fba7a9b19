"""`accelsim run`: placeholder until its issue lands (replace this module)."""


def register(sub):
    p = sub.add_parser("run", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("accelsim run: not yet implemented") or 2)
