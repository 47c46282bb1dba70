import { parseDeclaration, parseOutputsOption } from './outputs';

describe('output declarations', () => {
  it('reads --outputs name:type lists', () => {
    expect(parseOutputsOption('enriched:bool, industry : string,employee_count:number')).toEqual([
      { name: 'enriched', type: 'bool' },
      { name: 'industry', type: 'string' },
      { name: 'employee_count', type: 'number' },
    ]);
  });

  it('rejects entries without a type, unknown types and names declared twice', () => {
    expect(() => parseOutputsOption('enriched')).toThrow('--outputs: entry 1 ("enriched") is not name:type');
    expect(() => parseOutputsOption('a:string,b:text')).toThrow('--outputs: b: type "text" is not one of string, number, bool, datetime, date, enumeration, phone_number');
    expect(() => parseOutputsOption('a:string,a:number')).toThrow('output "a" is declared twice');
  });

  it('reads a JSON declaration and names the file and item of a mistake', () => {
    expect(parseDeclaration('[{"name": "score", "type": "number"}]', 'outputs.json')).toEqual([{ name: 'score', type: 'number' }]);
    expect(() => parseDeclaration('{"score": "number"}', 'outputs.json')).toThrow('outputs.json: must be a JSON list of {"name", "type"} objects');
    expect(() => parseDeclaration('[{"name": "score"}]', 'outputs.json')).toThrow('outputs.json: item 1: type undefined is not one of');
    expect(() => parseDeclaration('[{"name": "", "type": "string"}]', 'outputs.json')).toThrow('outputs.json: item 1: "name" must be a non-empty string');
    expect(() => parseDeclaration('[', 'outputs.json')).toThrow('outputs.json: not valid JSON');
    expect(() => parseDeclaration('[]', 'outputs.json')).toThrow('outputs.json: declares no outputs');
  });
});
