from evsh.cli.main import main

main()
