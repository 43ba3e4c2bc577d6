from driftline.cli.main import main

main()
