import { BoundedLabel, OTHER } from './bounded-label';

describe('BoundedLabel', () => {
  it('keeps the first values it sees and folds the rest into other', () => {
    const label = new BoundedLabel(2);
    expect(['a', 'b', 'c', 'a', 'd', 'b'].map((value) => label.of(value))).toEqual(['a', 'b', OTHER, 'a', OTHER, 'b']);
  });
});
