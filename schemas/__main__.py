from schemas.generate import write

for path in write():
    print(f"wrote {path}")
