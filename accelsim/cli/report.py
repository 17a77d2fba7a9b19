"""`accelsim report`: placeholder until its issue lands (replace this module)."""


def register(sub):
    p = sub.add_parser("report", help="(not yet implemented)")
    p.set_defaults(func=lambda args: print("accelsim report: not yet implemented") or 2)
