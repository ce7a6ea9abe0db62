// Names of the datasets, their splits, classes and file names: plain values that the browser page shares
// with the Node readers (no I/O here).

export type StaticDatasetName = 'mnist' | 'fashion-mnist' | 'cifar10';
export type EventDatasetName = 'nmnist' | 'cifar10dvs' | 'dvs128';
export type DatasetName = StaticDatasetName | EventDatasetName;
export type Split = 'train' | 'test';

export const DATASET_NAMES: readonly DatasetName[] = ['mnist', 'fashion-mnist', 'cifar10', 'nmnist', 'cifar10dvs', 'dvs128'];

export const CIFAR10DVS_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

/** IDX file names of one split; each may also be present without the .gz suffix. */
export function idxFiles(split: Split): { images: string; labels: string } {
  const p = split === 'train' ? 'train' : 't10k';
  return { images: `${p}-images-idx3-ubyte.gz`, labels: `${p}-labels-idx1-ubyte.gz` };
}

export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;
