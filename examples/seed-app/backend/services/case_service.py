from core.aws_service import AwsService
from core.config import settings


class CaseService:
    def __init__(self):
        self.aws = AwsService(settings["region"])

    def describe(self):
        return "cases stored via %s" % self.aws.describe()
