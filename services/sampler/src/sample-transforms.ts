// SampleTransforms: a few transformed images of the request's image, no inference (to look at
// what a threat model does).
import { encodeFloat32Tensor, type samplingV1 } from '@glcert/contracts';
import { rejectViolations, ResourceExhaustedError, threatModelIdentifierViolations, type CallContext } from '@glcert/runtime';
import { nextTurn } from './count-pipeline';
import { checkpoint, MESSAGE_OVERHEAD_BYTES, PRODUCE_SLICE_MS, type SamplerDeps } from './deps';
import { SampleSource } from './sample-source';
import { validateSampleTransformsRequest } from './validate';

export async function sampleTransforms(
  deps: SamplerDeps,
  req: samplingV1.SampleTransformsRequest,
  ctx: CallContext,
): Promise<samplingV1.SampleTransformsResponse> {
  rejectViolations(threatModelIdentifierViolations(req.threatModel));
  const input = validateSampleTransformsRequest(req);
  const { cfg } = deps;
  const { channels, height, width } = input.shape;
  const elements = channels * height * width;
  const count = Math.min(input.count, Math.floor((cfg.maxSendMessageBytes - MESSAGE_OVERHEAD_BYTES) / (elements * 4 + 256)));
  if (count < 1) {
    throw new ResourceExhaustedError(`one image (${elements * 4} bytes) does not fit in a response of ${cfg.maxSendMessageBytes} bytes`);
  }
  const source = new SampleSource({ ...input, maxBatch: count });
  const out = new Float32Array(count * elements);
  // up to 16 images, but one costly blur of a large image can take a while: yield as CountSamples does
  await source.fillInSlices(input.start, count, out, {
    budgetMs: PRODUCE_SLICE_MS,
    yieldToIo: nextTurn,
    checkpoint: () => checkpoint(deps, ctx),
  });
  // the parameters of all `count` samples (after sub-batches `params` holds only the last one's)
  source.resolve(input.start, count);
  const d = input.spec.params.length;
  const samples: samplingV1.TransformedSample[] = [];
  for (let i = 0; i < count; i++) {
    samples.push({
      index: BigInt(input.start + i),
      parameterNames: [...input.spec.params],
      parameterValues: Array.from(source.params.subarray(i * d, (i + 1) * d)),
      image: encodeFloat32Tensor(out.subarray(i * elements, (i + 1) * elements), [channels, height, width]),
    });
  }
  return { samples };
}

