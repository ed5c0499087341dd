"""`python -m tools.docs`: regenerate every generated documentation file (the same as `make docs`)."""

from tools.docs.generate import main

if __name__ == "__main__":
    main()
