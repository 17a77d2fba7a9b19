"""`accelsim sweep`: placeholder until its issue lands (replace this module)."""


def register(sub):
    p = sub.add_parser("sweep", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("accelsim sweep: not yet implemented") or 2)
