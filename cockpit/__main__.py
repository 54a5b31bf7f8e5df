from cockpit.cli import main

main()
