"""Search spaces shared by the optimiser's numeric tests."""
from skytune.optimize import parse_space

# continuous, log-scaled continuous and categorical: 5 features (a, b, one-hot c)
MIXED_SMALL = parse_space({
    "ContinuousParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "1"},
                                  {"Name": "b", "MinValue": "1e-4", "MaxValue": "1",
                                   "ScalingType": "Logarithmic"}],
    "CategoricalParameterRanges": [{"Name": "c", "Values": ["x", "y", "z"]}]})
