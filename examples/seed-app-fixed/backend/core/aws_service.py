class AwsService:
    def __init__(self, region):
        self.region = region

    def describe(self):
        return "S3 in %s" % self.region
