"""payouts: serverless payout orchestration (the package shipped as the Lambda layer)."""
