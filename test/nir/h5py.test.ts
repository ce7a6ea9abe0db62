// Interchange with h5py, the HDF5 library the reference nir package writes and reads with (skipped when
// /usr/bin/python3 has no h5py; Debian: python3-h5py): a file plif export writes reads back through the
// nir package's own reading steps (hdf2dict: datasets, nested groups, bytes decoded), and a graph written
// the way the nir package writes it (type as an h5py string, edges as a list of name pairs) imports here.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { saveCheckpointFile } from '../../training/checkpoint-file.js';
import { buildNetwork, networkConfig } from '../../core/network/network.js';
import { Rng } from '../../core/rng.js';
import { cpuBackend } from '../../backends/cpu/index.js';
import { main } from '../../cli/dispatch.js';
import { capture } from '../capture.js';

const PY = '/usr/bin/python3';
const hasH5py = spawnSync(PY, ['-c', 'import h5py'], { encoding: 'utf8' }).status === 0;

const READ = `
import h5py, json, sys, numpy as np
def s(a): return a.decode("utf8") if isinstance(a, bytes) else a
def rec(node, d):
    for k, item in node.items():
        if isinstance(item, h5py.Group):
            d[s(k)] = {}; rec(item, d[s(k)])
        else:
            v = item[()]
            d[s(k)] = (v.item() if isinstance(v, np.generic) else s(v)) if not isinstance(v, np.ndarray) else {"shape": list(v.shape), "dtype": str(v.dtype), "first": s(v.flat[0]) if v.dtype == object else float(v.flat[0])}
with h5py.File(sys.argv[1], "r") as f:
    g = {}; rec(f["node"], g)
    print(json.dumps({"version": s(f["version"][()]), "graph": g}, default=str))
`;

const WRITE = `
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("version", data="1.0.0")
    g = f.create_group("node")
    g.create_dataset("type", data="NIRGraph", dtype=h5py.string_dtype())
    g.create_dataset("edges", data=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    n = g.create_group("nodes")
    def node(name, type, **kv):
        x = n.create_group(name); x.create_dataset("type", data=type, dtype=h5py.string_dtype())
        for k, v in kv.items(): x.create_dataset(k, data=v)
    node("input", "Input", shape=np.array([1, 2, 2]))
    node("fc", "Linear", weight=np.full((4, 4), 0.1, dtype=np.float32))
    node("lif", "LIF", tau=np.full((4,), 3.0), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.full((4,), 0.5), v_reset=np.zeros(4))
    node("output", "Output", shape=np.array([4]))
`;

// CI installs python3-h5py and sets PLIF_REQUIRE_H5PY=1: there a missing h5py is a failure, not a skip.
if (!hasH5py && process.env['PLIF_REQUIRE_H5PY'] === '1') {
  it('has h5py (PLIF_REQUIRE_H5PY=1)', () => expect.fail(`${PY} cannot import h5py: install python3-h5py`));
}

describe.skipIf(!hasH5py)('NIR files and h5py (skipped without python3-h5py)', () => {
  it('h5py reads what plif export writes, as the nir package does; plif import reads what h5py writes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plif-h5py-'));
    const net = buildNetwork(cpuBackend(), networkConfig('c4k3s1-BN-PLIF-MPk2s2-FC20-PLIF-APk10s10', [1, 6, 6], 2, { T: 3 }), Rng.seeded(1));
    await saveCheckpointFile(join(dir, 'net.safetensors'), net);
    net.dispose();
    expect((await capture(() => main(['export', '--checkpoint', join(dir, 'net.safetensors'), '--out', join(dir, 'net.nir')]))).code).toBe(0);
    const r = spawnSync(PY, ['-c', READ, join(dir, 'net.nir')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { version, graph } = JSON.parse(r.stdout);
    expect(version).toBe('1.0.0');
    expect(graph.type).toBe('NIRGraph');
    expect(graph.edges).toMatchObject({ shape: [9, 2], first: 'input' });
    expect(graph.nodes['0_conv']).toMatchObject({ type: 'Conv2d', weight: { shape: [4, 1, 3, 3], dtype: 'float32' }, bias: { shape: [4] }, groups: 1, stride: { shape: [2], dtype: 'int64' } });
    expect(graph.nodes['2_lif']).toMatchObject({ type: 'LIF', tau: { shape: [4, 6, 6], first: 2 }, r: { first: 1 }, v_leak: { first: 0 }, v_threshold: { first: 1 }, v_reset: { first: 0 }, metadata: { neuron: 'PLIF' } });
    expect(graph.nodes['3_maxpool_sum']).toMatchObject({ type: 'SumPool2d', kernel_size: { shape: [2] } });
    expect(graph.nodes['3_maxpool_threshold']).toMatchObject({ type: 'Threshold', threshold: { shape: [4, 3, 3], first: 0.5 } });
    expect(graph.nodes['4_flatten']).toMatchObject({ type: 'Flatten', start_dim: 0, end_dim: -1, input_type: { shape: [3] } });
    expect(graph.nodes.output).toMatchObject({ type: 'Output', shape: { shape: [1], first: 2 } });
    expect(graph.metadata).toMatchObject({ T: 3, encoder: 'direct', dt: 1 });

    const w = spawnSync(PY, ['-c', WRITE, join(dir, 'py.nir')], { encoding: 'utf8' });
    expect(w.status, w.stderr).toBe(0);
    const imp = await capture(() => main(['import', '--format', 'nir', join(dir, 'py.nir'), '--out', join(dir, 'py.safetensors')]));
    expect(imp.code, imp.err).toBe(0);
    expect(imp.out).toContain('FC4-PLIF on [1, 2, 2], 4 classes');
    const ins = await capture(() => main(['inspect', '--checkpoint', join(dir, 'py.safetensors')]));
    expect(ins.code, ins.err).toBe(0);
    expect(ins.out).toMatch(/PLIF.*3\.000/); // tau 3 read back as the PLIF layer's tau
  });
});
