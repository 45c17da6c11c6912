settings = {"region": "us-east-1"}
