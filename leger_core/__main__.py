from leger_core.entry import main

main()
