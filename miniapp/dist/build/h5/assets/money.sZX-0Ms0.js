function t(t){const a=t<0?"-":"",n=Math.abs(Math.trunc(t));return`${a}￥${Math.floor(n/100).toLocaleString("en-US")}.${String(n%100).padStart(2,"0")}`}export{t as f};
