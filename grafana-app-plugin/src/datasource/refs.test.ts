// What a query's subnet and VRF texts name (#15): pure, after template variables are replaced.
import { labelled, parseSubnetRef, parseVariableQuery, QueryError } from './refs';

describe('parseSubnetRef', () => {
  it('no subnet, an id (any VRF), a CIDR in the global VRF when none is given (queries saved before VRFs)', () => {
    for (const none of [undefined, '', '  ', '$subnet', 'All', '$__all']) {
      expect(parseSubnetRef(none, 'site-b')).toBeUndefined();
    }
    expect(parseSubnetRef('12')).toEqual({ id: 12 });
    expect(parseSubnetRef('12', 'site-b')).toEqual({ id: 12 });
    expect(parseSubnetRef('10.0.0.0/24')).toEqual({ cidr: '10.0.0.0/24', vrf: 'global' });
    expect(parseSubnetRef(' 10.0.0.0/24 ', '')).toEqual({ cidr: '10.0.0.0/24', vrf: 'global' });
    expect(parseSubnetRef('2001:db8::/64', 'site-b')).toEqual({ cidr: '2001:db8::/64', vrf: 'site-b' });
  });

  it('"CIDR (vrf)" names its VRF; the same VRF in the field is fine, another one is an error', () => {
    const v = labelled('10.0.0.0/24', 'site-b');
    expect(v).toBe('10.0.0.0/24 (site-b)');
    expect(parseSubnetRef(v)).toEqual({ cidr: '10.0.0.0/24', vrf: 'site-b' });
    expect(parseSubnetRef(v, 'site-b')).toEqual({ cidr: '10.0.0.0/24', vrf: 'site-b' });
    expect(parseSubnetRef('10.0.0.0/24 (global)')).toEqual({ cidr: '10.0.0.0/24', vrf: 'global' });
    expect(() => parseSubnetRef(v, 'global')).toThrow(
      "10.0.0.0/24 (site-b) names the VRF site-b, but the query's VRF is global: clear one of them."
    );
  });

  it('refuses what names no subnet or no single VRF, with words for the panel', () => {
    const cases: Array<[string, string | undefined, RegExp]> = [
      ['office', undefined, /^"office" is not a subnet: give its id or its CIDR/],
      ['10.0.0.0/24 ()', undefined, /^"10\.0\.0\.0\/24 \(\)" is not a subnet: write its CIDR and VRF/],
      ['office (site-b)', undefined, /is not a subnet: write its CIDR and VRF/],
      ['10.0.0.0/24', '$vrf', /^The VRF \$vrf is a template variable this dashboard does not define\.$/],
      ['10.0.0.0/24', '{a,b}', /^Choose one VRF, not several/],
      ['10.0.0.0/24', '.*', /^Choose one VRF, not several/],
      ['10.0.0.0/24', 'a b', /^"a b" is not a VRF name\.$/],
    ];
    for (const [subnet, vrf, message] of cases) {
      expect(() => parseSubnetRef(subnet, vrf)).toThrow(QueryError);
      expect(() => parseSubnetRef(subnet, vrf)).toThrow(message);
    }
  });
});

describe('parseVariableQuery', () => {
  it('subnets (also empty), subnets(<vrf>), vrfs; anything else says what is understood', () => {
    expect(parseVariableQuery(undefined)).toEqual({ kind: 'subnets' });
    expect(parseVariableQuery(' subnets ')).toEqual({ kind: 'subnets' });
    expect(parseVariableQuery('subnets()')).toEqual({ kind: 'subnets' });
    expect(parseVariableQuery('subnets( site-b )')).toEqual({ kind: 'subnets', vrf: 'site-b' });
    expect(parseVariableQuery('vrfs')).toEqual({ kind: 'vrfs' });
    expect(() => parseVariableQuery('subnets(a,b)')).toThrow(/^Choose one VRF/);
    expect(() => parseVariableQuery('addresses')).toThrow(/^Unknown variable query "addresses"\. Use: subnets/);
  });
});
