print("payrail")
