from driftline.cli.main import app

app(prog_name="driftline")
