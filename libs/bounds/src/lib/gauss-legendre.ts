// 8-node Gauss-Legendre rule mapped to [0, 1] (ALGORITHM.md section 4, step 4): exact for
// polynomials of degree <= 15, so the path integral of M, a smooth function of the path point,
// is integrated to near machine precision.

const NODES_ON_SYMMETRIC = [0.1834346424956498, 0.525532409916329, 0.7966664774136267, 0.9602898564975363];
const WEIGHTS_ON_SYMMETRIC = [0.362683783378362, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763];

function build(): { nodes: Float64Array; weights: Float64Array } {
  const nodes = new Float64Array(8);
  const weights = new Float64Array(8);
  for (let i = 0; i < 4; i++) {
    // x in [-1, 1] -> t = (x + 1) / 2, weight halves.
    nodes[3 - i] = (1 - NODES_ON_SYMMETRIC[i]) / 2;
    nodes[4 + i] = (1 + NODES_ON_SYMMETRIC[i]) / 2;
    weights[3 - i] = WEIGHTS_ON_SYMMETRIC[i] / 2;
    weights[4 + i] = WEIGHTS_ON_SYMMETRIC[i] / 2;
  }
  return { nodes, weights };
}

const RULE = build();

/** Nodes of the 8-point Gauss-Legendre rule on [0, 1], ascending. */
export const GAUSS_NODES: Readonly<Float64Array> = RULE.nodes;
/** Weights of the 8-point Gauss-Legendre rule on [0, 1]; they sum to 1. */
export const GAUSS_WEIGHTS: Readonly<Float64Array> = RULE.weights;
